//! The routing rules: which event gives which payload, or none, or an error.

use super::fixtures::{
    body, fleet, identified_tcp, installation, owner, payload, payload_for, required_fields, tcp,
    upgrade,
};
use crate::{
    Event, Fleet, Installation, PluginError, Route, TcpUpdate, TenantControlPlane, handle,
};
use serde_json::{Value, json};

fn update(previous: TenantControlPlane, current: TenantControlPlane) -> Event {
    Event::Updated(TcpUpdate { previous, current })
}

fn versions(desired: Option<&str>, installed: Option<&str>) -> TenantControlPlane {
    TenantControlPlane {
        desired_version: desired.map(Into::into),
        installed_version: installed.map(Into::into),
        ..identified_tcp()
    }
}

/// The update body's (old, new) versions, or `None` for no payload.
fn update_versions(
    previous: TenantControlPlane,
    current: TenantControlPlane,
) -> Option<(Value, Value)> {
    let payload = handle(&installation(), &update(previous, current)).expect("handled")?;
    assert_eq!(payload.route, Route::Update);
    let body: Value = serde_json::from_str(&payload.body).expect("JSON");
    Some((
        body["old_tcp_version"].clone(),
        body["new_tcp_version"].clone(),
    ))
}

#[test]
fn each_event_goes_to_its_route() {
    let routes = [
        (Event::Heartbeat(fleet()), Route::Stats),
        (Event::Created(identified_tcp()), Route::Create),
        (Event::Updated(upgrade("v1.29.0", "v1.30.0")), Route::Update),
        (Event::Deleted(identified_tcp()), Route::Delete),
    ];
    for (event, route) in routes {
        assert_eq!(payload(&event).route, route);
    }
}

#[test]
fn update_without_a_version_change_is_not_telemetry() {
    let before = versions(Some("v1.30.2"), Some("v1.30.2"));
    let relabelled = TenantControlPlane {
        labels: vec![],
        status: Some("NotReady".into()),
        installed_version: Some("v1.30.1".into()),
        ..before.clone()
    };
    assert_eq!(update_versions(before.clone(), before.clone()), None);
    assert_eq!(update_versions(before.clone(), relabelled), None);
    assert_eq!(
        update_versions(versions(None, None), versions(None, None)),
        None
    );
}

#[test]
fn update_compares_normalised_versions() {
    // A provider suffix or a missing `v` does not change the release sent.
    let suffixed = versions(Some("v1.30.2-eks-1"), None);
    assert_eq!(
        update_versions(suffixed, versions(Some("1.30.2"), None)),
        None
    );
    // Two unparseable versions would both be sent as Unknown.
    assert_eq!(
        update_versions(
            versions(Some("latest"), None),
            versions(Some("stable"), None)
        ),
        None
    );
}

#[test]
fn update_old_version_is_the_previous_installed_one() {
    let sent = update_versions(
        versions(Some("v1.30.2"), Some("v1.29.9+k3s1")),
        versions(Some("v1.31.0"), None),
    );
    assert_eq!(sent, Some((json!("v1.29.9"), json!("v1.31.0"))));
}

#[test]
fn update_old_version_falls_back_to_the_previous_desired_one() {
    for installed in [None, Some("")] {
        let sent = update_versions(
            versions(Some("v1.30.2"), installed),
            versions(Some("v1.31.0"), installed),
        );
        assert_eq!(
            sent,
            Some((json!("v1.30.2"), json!("v1.31.0"))),
            "{installed:?}"
        );
    }
}

#[test]
fn update_that_adds_or_removes_the_desired_version_is_sent_with_unknown() {
    let added = update_versions(versions(None, None), versions(Some("v1.31.0"), None));
    assert_eq!(added, Some((json!("Unknown"), json!("v1.31.0"))));
    let removed = update_versions(versions(Some("v1.31.0"), None), versions(None, None));
    assert_eq!(removed, Some((json!("v1.31.0"), json!("Unknown"))));
}

#[test]
fn create_reads_profile_cluster_api_and_version() {
    let created = TenantControlPlane {
        desired_version: Some("v1.32.3-gke.1785003".into()),
        owner_references: vec![owner("Deployment"), owner("KamajiControlPlane")],
        ..identified_tcp()
    };
    let (_, body) = body(&Event::Created(created));
    assert_eq!(body["tcp_version"], "v1.32.3");
    assert_eq!(body["cluster_api"], true);
    assert_eq!(body["network_profile"], "ingress");
}

#[test]
fn delete_keeps_only_statuses_from_kamajis_set() {
    for (status, sent) in [
        (Some("Sleeping"), "Sleeping"),
        (Some("WriteLimited"), "WriteLimited"),
        (Some("Degraded since 10.0.0.1 failed"), "Unknown"),
        (None, "Unknown"),
    ] {
        let deleted = TenantControlPlane {
            status: status.map(Into::into),
            ..identified_tcp()
        };
        assert_eq!(
            body(&Event::Deleted(deleted)).1["status"],
            sent,
            "{status:?}"
        );
    }
}

#[test]
fn heartbeat_counts_the_fleet() {
    let (_, body) = body(&Event::Heartbeat(fleet()));
    assert_eq!(
        body["tenant_control_plane"],
        json!({"running": 1, "upgrading": 0, "not_ready": 0, "sleeping": 0})
    );
    for key in ["etcd", "postgres", "mysql", "nats"] {
        assert_eq!(
            body["datastores"][key],
            json!({"count": 1, "used_by_count": 1})
        );
    }
}

#[test]
fn required_fields_are_never_empty() {
    let bare = Installation {
        cluster_uid: installation().cluster_uid,
        kamaji_version: String::new(),
        kubernetes_version: String::new(),
    };
    let empty_fleet = Fleet {
        tenant_control_planes: vec![],
        data_stores: vec![],
    };
    let events = [
        Event::Heartbeat(empty_fleet),
        Event::Created(tcp()),
        update(versions(None, None), versions(Some("v1.31.0"), None)),
        Event::Deleted(tcp()),
    ];
    for event in events {
        let payload = payload_for(&bare, &event);
        let body: Value = serde_json::from_str(&payload.body).expect("JSON");
        for field in required_fields(payload.route) {
            let value = body[field].as_str().unwrap_or_default();
            assert!(!value.is_empty(), "{field} is empty in {body}");
        }
        assert_eq!(body["kamaji_version"], "Unknown");
    }
}

#[test]
fn heartbeat_with_a_malformed_cluster_uid_is_an_error_without_the_value() {
    for uid in [
        "",
        "k8s-133",
        "56279633-3131-436b-b8f2",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let malformed = Installation {
            cluster_uid: uid.into(),
            ..installation()
        };
        let Err(PluginError::MalformedInput(err)) = handle(&malformed, &Event::Heartbeat(fleet()))
        else {
            panic!("{uid}: not a malformed-input error");
        };
        assert!(err.starts_with("installation.cluster-uid is "), "{err}");
        assert!(uid.is_empty() || !err.contains(uid), "{err}");
    }
}

#[test]
fn events_do_not_need_the_cluster_uid() {
    let malformed = Installation {
        cluster_uid: "k8s-133".into(),
        ..installation()
    };
    let created = handle(&malformed, &Event::Created(identified_tcp()));
    assert!(created.is_ok_and(|p| p.is_some()));
}
