//! The redaction report of each route: which present fields it lists, with
//! which action, and that it never quotes a value.

use super::fixtures::{
    DOC_UID, data_store, fleet, identified_tcp, identifying_strings, installation, payload,
    payload_for, sample_events, upgrade,
};
use crate::RedactionAction::{self, Dropped as D, Normalised as N, Pseudonymised as P};
use crate::{Event, Fleet, Installation, TenantControlPlane};

/// The report of an event, as (field, action) pairs.
fn report(installation: &Installation, event: &Event) -> Vec<(String, RedactionAction)> {
    let payload = payload_for(installation, event);
    payload
        .redactions
        .into_iter()
        .map(|r| (r.field, r.action))
        .collect()
}

/// Expected entries: `prefix.field` for each (field, action).
fn under(prefix: &str, fields: &[(&str, RedactionAction)]) -> Vec<(String, RedactionAction)> {
    fields
        .iter()
        .map(|(field, action)| (format!("{prefix}.{field}"), *action))
        .collect()
}

/// The identifying fields of [`identified_tcp`], always dropped, in WIT order.
const METADATA: [(&str, RedactionAction); 5] = [
    ("name", D),
    ("namespace", D),
    ("uid", D),
    ("labels", D),
    ("annotations", D),
];
const ADDRESSES: [(&str, RedactionAction); 4] = [
    ("gateway", D),
    ("network-address", D),
    ("endpoint", D),
    ("data-store", D),
];

fn expected(parts: &[Vec<(String, RedactionAction)>]) -> Vec<(String, RedactionAction)> {
    parts.concat()
}

#[test]
fn create_report() {
    let tcp = "tenant-control-plane";
    assert_eq!(
        report(&installation(), &Event::Created(identified_tcp())),
        expected(&[
            under("installation", &[("cluster-uid", D)]),
            under(tcp, &METADATA),
            // desired-version is canonical, so sent verbatim and not listed.
            under(
                tcp,
                &[
                    ("owner-references", N),
                    ("installed-version", D),
                    ("status", D),
                    ("service-type", D),
                    ("ingress", N)
                ]
            ),
            under(tcp, &ADDRESSES),
        ])
    );
}

#[test]
fn create_report_maps_service_type_without_ingress() {
    let created = TenantControlPlane {
        ingress: None,
        ..identified_tcp()
    };
    let entries = report(&installation(), &Event::Created(created));
    assert!(entries.contains(&("tenant-control-plane.service-type".into(), N)));
}

#[test]
fn stats_report() {
    let tcps = "fleet.tenant-control-planes[]";
    assert_eq!(
        report(&installation(), &Event::Heartbeat(fleet())),
        expected(&[
            under("installation", &[("cluster-uid", P)]),
            under(tcps, &METADATA),
            under(
                tcps,
                &[
                    ("owner-references", D),
                    ("desired-version", D),
                    ("installed-version", D),
                    ("status", N),
                    ("service-type", D),
                    ("ingress", D)
                ]
            ),
            under(tcps, &ADDRESSES),
            under(
                "fleet.data-stores[]",
                &[("name", D), ("driver", N), ("used-by", N)]
            ),
        ])
    );
}

#[test]
fn stats_report_says_uncounted_data_stores_were_left_out() {
    let fleet = Fleet {
        tenant_control_planes: vec![],
        data_stores: vec![data_store("TiKV", 3)],
    };
    let payload = payload(&Event::Heartbeat(fleet));
    let uncounted = payload
        .redactions
        .iter()
        .find(|r| r.field == "fleet.data-stores[]");
    assert!(uncounted.is_some_and(|r| r.action == D && r.reason.contains("not counted")));
}

#[test]
fn update_report() {
    let unused = [
        ("owner-references", D),
        ("installed-version", D),
        ("status", D),
        ("service-type", D),
        ("ingress", D),
    ];
    assert_eq!(
        report(
            &installation(),
            &Event::Updated(upgrade("v1.34.2", "v1.35.7"))
        ),
        expected(&[
            under("installation", &[("cluster-uid", D)]),
            under("tcp-update.previous", &METADATA),
            // The previous installed version is sent as old_tcp_version.
            under(
                "tcp-update.previous",
                &[
                    ("owner-references", D),
                    ("desired-version", D),
                    ("status", D),
                    ("service-type", D),
                    ("ingress", D)
                ]
            ),
            under("tcp-update.previous", &ADDRESSES),
            under("tcp-update.current", &METADATA),
            under("tcp-update.current", &unused),
            under("tcp-update.current", &ADDRESSES),
        ])
    );
}

#[test]
fn delete_report() {
    let tcp = "tenant-control-plane";
    assert_eq!(
        report(&installation(), &Event::Deleted(identified_tcp())),
        expected(&[
            under("installation", &[("cluster-uid", D)]),
            under(tcp, &METADATA),
            under(
                tcp,
                &[
                    ("owner-references", D),
                    ("installed-version", D),
                    ("service-type", D),
                    ("ingress", D)
                ]
            ),
            under(tcp, &ADDRESSES),
        ])
    );
}

#[test]
fn changed_versions_and_statuses_are_reported_as_normalised() {
    let managed = Installation {
        cluster_uid: DOC_UID.into(),
        kamaji_version: "v1.0.0-12-gabc1234".into(),
        kubernetes_version: "v1.26.12-eks-5e0fdde".into(),
    };
    let deleted = TenantControlPlane {
        desired_version: Some("1.30.2".into()),
        status: Some("Degraded".into()),
        ..identified_tcp()
    };
    let entries = report(&managed, &Event::Deleted(deleted));
    for field in [
        "installation.kamaji-version",
        "installation.kubernetes-version",
        "tenant-control-plane.desired-version",
        "tenant-control-plane.status",
    ] {
        assert!(
            entries.contains(&(field.into(), N)),
            "{field} in {entries:?}"
        );
    }
}

#[test]
fn update_reports_the_field_its_old_version_came_from() {
    let mut update = upgrade("v1.34.2-gke.1", "v1.35.7");
    update.previous.installed_version = None;
    let entries = report(&installation(), &Event::Updated(update));
    assert!(entries.contains(&("tcp-update.previous.desired-version".into(), N)));
    assert!(
        !entries
            .iter()
            .any(|(field, _)| field == "tcp-update.previous.installed-version")
    );
}

#[test]
fn reports_never_quote_a_value_and_give_one_sentence_each() {
    let mut secrets = identifying_strings(&identified_tcp());
    secrets.push(DOC_UID.into());
    for event in sample_events() {
        for entry in payload(&event).redactions {
            for secret in &secrets {
                assert!(
                    !entry.field.contains(secret.as_str()),
                    "{secret} in {entry:?}"
                );
                assert!(
                    !entry.reason.contains(secret.as_str()),
                    "{secret} in {entry:?}"
                );
            }
            let reason = &entry.reason;
            let one_sentence = reason.starts_with(char::is_uppercase)
                && reason.ends_with('.')
                && !reason.trim_end_matches('.').contains(". ");
            assert!(one_sentence, "{reason}");
        }
    }
}
