//! The privacy property: for random installations, TCPs and fleets, no input
//! string outside the fixed vocabulary reaches any body or report.
//!
//! The identifying strings have shapes nothing in a body or a reason has (an
//! uppercase letter, lowercase letters, then digits; dotted quads; colon
//! groups; dotted hostnames), so a hit is a leak, never a coincidence.

use super::fixtures::required_fields;
use crate::fleet::Driver;
use crate::status::TcpStatus;
use crate::versions::{KamajiVersion, KubernetesVersion};
use crate::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, Installation, KeyValue,
    OwnerReference, TcpUpdate, TenantControlPlane, handle,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

/// A name, UID, label or the like.
fn word() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{2}[0-9]{2}[a-z0-9]{1,6}"
}

fn ipv4() -> impl Strategy<Value = String> {
    any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}"))
}

fn ipv6() -> impl Strategy<Value = String> {
    any::<[u16; 8]>().prop_map(|groups| groups.map(|g| format!("{g:x}")).join(":"))
}

fn hostname() -> impl Strategy<Value = String> {
    (word(), word()).prop_map(|(host, domain)| format!("{host}.{domain}.example.com"))
}

/// An IP address or a hostname.
fn address() -> impl Strategy<Value = String> {
    prop_oneof![ipv4(), ipv6(), hostname()]
}

/// Any identifying string.
fn identifying() -> impl Strategy<Value = String> {
    prop_oneof![word(), address()]
}

fn endpoint() -> impl Strategy<Value = String> {
    (address(), any::<u16>()).prop_map(|(address, port)| format!("{address}:{port}"))
}

/// A value from a fixed set, or free text in its place.
fn one_of(values: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop_oneof![select(values).prop_map(String::from), word()]
}

/// A Kubernetes version: canonical, with a provider suffix, or free text.
fn version() -> impl Strategy<Value = String> {
    let release = || (0u16..3, 0u16..40, 0u16..200).prop_map(|(a, b, c)| format!("v{a}.{b}.{c}"));
    prop_oneof![
        release(),
        (release(), select(vec!['-', '+']), word())
            .prop_map(|(release, sep, suffix)| format!("{release}{sep}{suffix}")),
        word(),
    ]
}

fn kamaji_version() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("dev".to_string()),
        (10u16..99, 1u16..13, 0u16..20).prop_map(|(y, m, n)| format!("edge-{y}.{m}.{n}")),
        version(),
    ]
}

fn installation() -> impl Strategy<Value = Installation> {
    (1..=u128::MAX, kamaji_version(), version()).prop_map(|(uid, kamaji, kubernetes)| {
        Installation {
            cluster_uid: uuid::Uuid::from_u128(uid).to_string(),
            kamaji_version: kamaji,
            kubernetes_version: kubernetes,
        }
    })
}

fn key_values() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (word(), identifying()).prop_map(|(key, value)| KeyValue { key, value }),
        0..3,
    )
}

fn owner() -> impl Strategy<Value = OwnerReference> {
    (word(), one_of(vec!["KamajiControlPlane"]), word(), word()).prop_map(
        |(api_version, kind, name, uid)| OwnerReference {
            api_version,
            kind,
            name,
            uid,
        },
    )
}

fn tcp() -> impl Strategy<Value = TenantControlPlane> {
    let metadata = (
        word(),
        word(),
        word(),
        key_values(),
        key_values(),
        vec(owner(), 0..3),
    );
    let state = (
        option::of(version()),
        option::of(version()),
        option::of(one_of(TcpStatus::ALL.map(TcpStatus::as_str).to_vec())),
        option::of(one_of(vec!["LoadBalancer", "NodePort", "ClusterIP"])),
    );
    let ingress =
        (option::of(hostname()), option::of(word())).prop_map(|(hostname, class_name)| {
            IngressExposure {
                hostname,
                class_name,
            }
        });
    let gateway = option::of(hostname()).prop_map(|hostname| GatewayExposure { hostname });
    let exposure = (
        option::of(ingress),
        option::of(gateway),
        option::of(address()),
        option::of(endpoint()),
        option::of(word()),
    );
    (metadata, state, exposure).prop_map(
        |(
            (name, namespace, uid, labels, annotations, owner_references),
            (desired_version, installed_version, status, service_type),
            (ingress, gateway, network_address, endpoint, data_store),
        )| TenantControlPlane {
            name,
            namespace,
            uid,
            labels,
            annotations,
            owner_references,
            desired_version,
            installed_version,
            status,
            service_type,
            ingress,
            gateway,
            network_address,
            endpoint,
            data_store,
        },
    )
}

fn data_store() -> impl Strategy<Value = DataStore> {
    let used_by = (word(), word()).prop_map(|(namespace, name)| format!("{namespace}/{name}"));
    (
        word(),
        one_of(Driver::ALL.map(Driver::spec_name).to_vec()),
        vec(used_by, 0..4),
    )
        .prop_map(|(name, driver, used_by)| DataStore {
            name,
            driver,
            used_by_count: used_by.len() as u32,
            used_by,
        })
}

/// Every string of a TCP, identifying or not.
fn tcp_strings(tcp: &TenantControlPlane) -> Vec<&str> {
    let mut strings = vec![tcp.name.as_str(), &tcp.namespace, &tcp.uid];
    for pair in tcp.labels.iter().chain(&tcp.annotations) {
        strings.extend([pair.key.as_str(), &pair.value]);
    }
    for owner in &tcp.owner_references {
        strings.extend([
            owner.api_version.as_str(),
            &owner.kind,
            &owner.name,
            &owner.uid,
        ]);
    }
    let optional = [
        &tcp.desired_version,
        &tcp.installed_version,
        &tcp.status,
        &tcp.service_type,
        &tcp.network_address,
        &tcp.endpoint,
        &tcp.data_store,
    ];
    strings.extend(optional.into_iter().flatten().map(String::as_str));
    if let Some(ingress) = &tcp.ingress {
        strings.extend(
            [&ingress.hostname, &ingress.class_name]
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
    }
    strings.extend(tcp.gateway.iter().flat_map(|g| g.hostname.as_deref()));
    strings
}

/// Every string of an installation and an event.
fn input_strings<'a>(installation: &'a Installation, event: &'a Event) -> Vec<&'a str> {
    let mut strings = vec![
        installation.cluster_uid.as_str(),
        &installation.kamaji_version,
        &installation.kubernetes_version,
    ];
    match event {
        Event::Created(tcp) | Event::Deleted(tcp) => strings.extend(tcp_strings(tcp)),
        Event::Updated(update) => {
            strings.extend(tcp_strings(&update.previous));
            strings.extend(tcp_strings(&update.current));
        }
        Event::Heartbeat(fleet) => {
            strings.extend(fleet.tenant_control_planes.iter().flat_map(tcp_strings));
            for store in &fleet.data_stores {
                strings.extend([store.name.as_str(), &store.driver]);
                strings.extend(store.used_by.iter().map(String::as_str));
            }
        }
    }
    strings
}

/// The values that may legitimately appear verbatim: Kamaji's fixed
/// vocabularies and versions already in their canonical shape.
fn vocabulary(text: &str) -> bool {
    let fixed = [
        "LoadBalancer",
        "NodePort",
        "ClusterIP",
        "KamajiControlPlane",
    ];
    fixed.contains(&text)
        || TcpStatus::ALL.iter().any(|s| s.as_str() == text)
        || Driver::parse(text).is_some()
        || KubernetesVersion::parse(text).to_string() == text
        || KamajiVersion::parse(text).to_string() == text
}

/// Fails when the event's payload is not valid JSON with its required fields
/// set, or when a free-text input string appears in its body or report.
fn check_payload(installation: &Installation, event: &Event) -> Result<(), TestCaseError> {
    let Some(payload) =
        handle(installation, event).map_err(|error| TestCaseError::fail(format!("{error:?}")))?
    else {
        return Ok(());
    };
    let body: serde_json::Value =
        serde_json::from_str(&payload.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for field in required_fields(payload.route) {
        prop_assert!(
            body[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} in {body}"
        );
    }
    let report = payload
        .redactions
        .iter()
        .flat_map(|r| [r.field.as_str(), &r.reason]);
    let sent: Vec<&str> = std::iter::once(payload.body.as_str())
        .chain(report)
        .collect();
    for input in input_strings(installation, event) {
        if input.is_empty() || vocabulary(input) {
            continue;
        }
        for text in &sent {
            prop_assert!(!text.contains(input), "{input:?} leaked into {text}");
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn no_free_text_reaches_a_body_or_report_and_bodies_are_complete(
        installation in installation(),
        tcps in vec(tcp(), 2..5),
        data_stores in vec(data_store(), 0..5),
    ) {
        let events = [
            Event::Created(tcps[0].clone()),
            Event::Updated(TcpUpdate { previous: tcps[0].clone(), current: tcps[1].clone() }),
            Event::Deleted(tcps[1].clone()),
            Event::Heartbeat(Fleet { tenant_control_planes: tcps, data_stores }),
        ];
        for event in &events {
            check_payload(&installation, event)?;
        }
    }

    #[test]
    fn an_update_keeping_the_desired_version_sends_nothing(
        installation in installation(),
        previous in tcp(),
        current in tcp(),
    ) {
        let current = TenantControlPlane { desired_version: previous.desired_version.clone(), ..current };
        let update = Event::Updated(TcpUpdate { previous, current });
        prop_assert_eq!(handle(&installation, &update), Ok(None));
    }
}
