//! The leak guard against bodies that copy identifying input, and against
//! clean bodies that merely share the input's values or the words the
//! default plugin declares.

use std::sync::OnceLock;

use kamaji_telemetry::leak_guard::{DeclaredWords, Leak, find_leak};
use kamaji_telemetry::model::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, Installation, KeyValue,
    OwnerReference, TcpUpdate, TenantControlPlane,
};
use kamaji_telemetry::plugin::{DEFAULT_PLUGIN, PluginRuntime, SandboxLimits};
use proptest::prelude::*;

const CLUSTER_UID: &str = "6f1e3b0c-2d4a-4b8e-9c7f-1a2b3c4d5e6f";

fn installation() -> Installation {
    Installation {
        cluster_uid: CLUSTER_UID.to_string(),
        kamaji_version: "v1.0.0".to_string(),
        kubernetes_version: "v1.26.12-eks-5e0fdde".to_string(),
    }
}

fn key_value(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

fn some(value: &str) -> Option<String> {
    Some(value.to_string())
}

fn acme_prod() -> TenantControlPlane {
    TenantControlPlane {
        name: "acme-prod".to_string(),
        namespace: "tenant-acme".to_string(),
        uid: "3f6c1a9e-8b2d-4c7f-9e1a-5d8b7c6a4f21".to_string(),
        labels: vec![
            key_value("acme.example/team", "payments"),
            key_value("managed", "true"),
            key_value("tier", "1"),
            key_value("pinned-version", "v1.27.0"),
            key_value("cloud", "eks"),
            key_value("color", "face"),
        ],
        annotations: vec![key_value("acme.example/contact", "oncall@acme.example")],
        owner_references: vec![OwnerReference {
            api_version: "controlplane.cluster.x-k8s.io/v1alpha1".to_string(),
            kind: "KamajiControlPlane".to_string(),
            name: "acme-capi".to_string(),
            uid: "9b2e4d71-0c3a-4e58-a6f1-2d7c9e8b5a34".to_string(),
        }],
        desired_version: some("v1.27.0"),
        installed_version: some("v1.26.3"),
        status: some("Ready"),
        service_type: some("LoadBalancer"),
        ingress: Some(IngressExposure {
            hostname: some("acme-prod.k8s.acme.example"),
            class_name: some("nginx"),
        }),
        gateway: Some(GatewayExposure {
            hostname: some("gw.acme.example"),
        }),
        network_address: some("203.0.113.10"),
        endpoint: some("203.0.113.10:6443"),
        data_store: some("postgresql-gold"),
    }
}

fn data_store() -> DataStore {
    DataStore {
        name: "postgresql-gold".to_string(),
        driver: "PostgreSQL".to_string(),
        used_by: vec!["tenant-acme/acme-prod".to_string()],
    }
}

fn heartbeat(tenant_control_planes: Vec<TenantControlPlane>) -> Event {
    Event::Heartbeat(Fleet {
        tenant_control_planes,
        data_stores: vec![data_store()],
    })
}

/// Kamaji's create body for `acme_prod`, as a redacting plugin builds it:
/// the raw version's provider suffix would carry the label `cloud: eks`.
const CLEAN_CREATE: &str = r#"{"kamaji_version":"v1.0.0","kubernetes_version":"v1.26.12","tcp_version":"v1.27.0","cluster_api":true,"network_profile":"ingress"}"#;

/// Kamaji's stats body, with the cluster uid pseudonymised.
const CLEAN_STATS: &str = r#"{"uuid":"9c4e5f2cface9e0b1d7a3c6e8f2b4d6a8c0e2f4b6d8a0c2e4f6b8d0a2c4e6f8b","kamaji_version":"v1.0.0","kubernetes_version":"v1.26","tenant_control_plane":{"running":1,"upgrading":0,"not_ready":0,"sleeping":0},"datastores":{"etcd":{"count":0,"used_by_count":0},"postgres":{"count":1,"used_by_count":1},"mysql":{"count":0,"used_by_count":0},"nats":{"count":0,"used_by_count":0}}}"#;

/// The words the embedded default plugin declares, as the host loads it.
fn default_plugin_words() -> &'static DeclaredWords {
    static WORDS: OnceLock<DeclaredWords> = OnceLock::new();
    WORDS.get_or_init(|| {
        let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("engine");
        let plugin = runtime
            .load(DEFAULT_PLUGIN)
            .expect("the default plugin loads");
        plugin.declared_words().clone()
    })
}

fn leak_in(event: &Event, body: &str) -> Option<Leak> {
    find_leak(
        default_plugin_words(),
        std::slice::from_ref(event),
        &installation(),
        body,
    )
}

#[test]
fn clean_bodies_pass() {
    let created = Event::Created(acme_prod());
    assert_eq!(leak_in(&created, CLEAN_CREATE), None);
    assert_eq!(leak_in(&heartbeat(vec![acme_prod()]), CLEAN_STATS), None);
    let delete = r#"{"kamaji_version":"v1.0.0","kubernetes_version":"v1.26.12","tcp_version":"v1.27.0","status":"Ready"}"#;
    assert_eq!(leak_in(&Event::Deleted(acme_prod()), delete), None);
    // A raw provider suffix is a token of its own: the label `cloud: eks`.
    let raw = delete.replace("v1.26.12", "v1.26.12-eks-5e0fdde");
    assert_eq!(
        leak_in(&Event::Deleted(acme_prod()), &raw),
        Some(Leak::Value {
            field: "tenant-control-plane.labels"
        })
    );
}

#[test]
fn copies_of_identifying_fields_are_caught_by_field_never_by_value() {
    let tcp = acme_prod();
    let cases = [
        ("acme-prod", "tenant-control-plane.name"),
        ("tenant-acme", "tenant-control-plane.namespace"),
        (
            "3f6c1a9e-8b2d-4c7f-9e1a-5d8b7c6a4f21",
            "tenant-control-plane.uid",
        ),
        ("acme.example/team", "tenant-control-plane.labels"),
        ("payments", "tenant-control-plane.labels"),
        ("oncall@acme.example", "tenant-control-plane.annotations"),
        ("acme-capi", "tenant-control-plane.owner-references.name"),
        (
            "9b2e4d71-0c3a-4e58-a6f1-2d7c9e8b5a34",
            "tenant-control-plane.owner-references.uid",
        ),
        (
            "acme-prod.k8s.acme.example",
            "tenant-control-plane.ingress.hostname",
        ),
        ("gw.acme.example", "tenant-control-plane.gateway.hostname"),
        ("203.0.113.10", "tenant-control-plane.network-address"),
        ("203.0.113.10:6443", "tenant-control-plane.endpoint"),
        ("postgresql-gold", "tenant-control-plane.data-store"),
        (CLUSTER_UID, "installation.cluster-uid"),
    ];
    for (value, field) in cases {
        let event = Event::Created(without_other_copies(&tcp, value));
        let body = format!(r#"{{"kamaji_version":"v1.0.0","note":"{value}"}}"#);
        let leak = leak_in(&event, &body).unwrap_or_else(|| panic!("{field} not caught"));
        assert_eq!(leak, Leak::Value { field }, "{value}");
        assert!(!leak.to_string().contains(value), "{leak}");
    }
}

/// `tcp` with the fields that would also match `value` (its name inside the
/// hostname, the address inside the endpoint...) blanked, except the one
/// holding exactly `value`.
fn without_other_copies(tcp: &TenantControlPlane, value: &str) -> TenantControlPlane {
    let keep = |field: &String| {
        if field == value {
            field.clone()
        } else {
            String::new()
        }
    };
    let keep_option = |field: &Option<String>| field.as_ref().map(keep);
    TenantControlPlane {
        name: keep(&tcp.name),
        namespace: keep(&tcp.namespace),
        uid: keep(&tcp.uid),
        labels: tcp
            .labels
            .iter()
            .filter(|kv| kv.key == value || kv.value == value)
            .cloned()
            .collect(),
        annotations: tcp
            .annotations
            .iter()
            .filter(|kv| kv.key == value || kv.value == value)
            .cloned()
            .collect(),
        owner_references: tcp
            .owner_references
            .iter()
            .map(|owner| OwnerReference {
                name: keep(&owner.name),
                uid: keep(&owner.uid),
                ..owner.clone()
            })
            .collect(),
        ingress: tcp.ingress.as_ref().map(|ingress| IngressExposure {
            hostname: keep_option(&ingress.hostname),
            class_name: ingress.class_name.clone(),
        }),
        gateway: tcp.gateway.as_ref().map(|gateway| GatewayExposure {
            hostname: keep_option(&gateway.hostname),
        }),
        network_address: keep_option(&tcp.network_address),
        endpoint: keep_option(&tcp.endpoint),
        data_store: keep_option(&tcp.data_store),
        ..tcp.clone()
    }
}

#[test]
fn data_store_names_and_users_are_identifying() {
    let event = heartbeat(Vec::new());
    let leak = leak_in(&event, r#"{"datastore":"PostgreSQL-Gold"}"#);
    assert_eq!(
        leak,
        Some(Leak::Value {
            field: "data-store.name"
        })
    );
    let leak = leak_in(&event, r#"{"users":["tenant-acme/acme-prod"]}"#);
    assert_eq!(
        leak,
        Some(Leak::Value {
            field: "data-store.used-by"
        })
    );
}

#[test]
fn escaped_cased_and_embedded_copies_are_caught() {
    let event = Event::Created(acme_prod());
    let bodies = [
        r#"{"name":"\u0061cme-prod"}"#,
        r#"{"name":"ACME-PROD"}"#,
        r#"{"message":"upgrade of tcp tenant-acme/acme-prod failed"}"#,
        r#"{"url":"https://acme-prod.k8s.acme.example:6443/healthz"}"#,
        r#"{"tenants":{"acme-prod":1}}"#,
        r#"[[[{"deep":["x","acme-prod"]}]]]"#,
        // A receiver that keeps the first of two duplicate keys would read it.
        r#"{"name":"acme-prod","name":"redacted"}"#,
    ];
    for body in bodies {
        assert!(
            matches!(leak_in(&event, body), Some(Leak::Value { .. })),
            "{body}"
        );
    }
}

#[test]
fn values_of_the_event_and_declared_words_cause_no_false_blocks() {
    let tcp = TenantControlPlane {
        // Exactly the TCP's status, and a word of the wire format's keys.
        name: "Ready".to_string(),
        namespace: "kamaji".to_string(),
        labels: vec![
            key_value("ok", "1"),
            key_value("version", "v1.27.0"),
            key_value("status", "running"),
            key_value("component", "tenant_control_plane"),
        ],
        ..acme_prod()
    };
    let event = Event::Updated(TcpUpdate {
        previous: tcp.clone(),
        current: tcp,
    });
    let body = r#"{"kamaji_version":"v1.0.0","kubernetes_version":"v1.26","old_tcp_version":"v1.26.3","new_tcp_version":"v1.27.0","status":"Ready","tenant_control_plane":{"running":1}}"#;
    assert_eq!(leak_in(&event, body), None);
}

#[test]
fn a_declared_word_hides_nothing_inside_it() {
    let tcp = TenantControlPlane {
        namespace: "kamaji".to_string(),
        ..acme_prod()
    };
    let event = Event::Created(tcp);
    for body in [
        r#"{"kamaji_version":"kamaji-v1.0.0"}"#,
        r#"{"kamaji_version":"v1.0.0","tenant":"KAMAJI/tcp"}"#,
    ] {
        assert_eq!(
            leak_in(&event, body),
            Some(Leak::Value {
                field: "tenant-control-plane.namespace"
            }),
            "{body}"
        );
    }
}

#[test]
fn version_shaped_names_are_names() {
    for name in ["v10.0.0.5", "v1.28.7", "1.28.7"] {
        let tcp = TenantControlPlane {
            name: name.to_string(),
            ..acme_prod()
        };
        let body = format!(r#"{{"kamaji_version":"v1.0.0","tcp_version":"{name}"}}"#);
        assert_eq!(
            leak_in(&Event::Created(tcp), &body),
            Some(Leak::Value {
                field: "tenant-control-plane.name"
            }),
            "{name}"
        );
    }
    // The same string as the version the event carries cannot be told from it.
    let tcp = TenantControlPlane {
        name: "v1.27.0".to_string(),
        ..acme_prod()
    };
    assert_eq!(leak_in(&Event::Created(tcp), CLEAN_CREATE), None);
}

#[test]
fn a_value_inside_a_non_identifying_value_is_still_caught() {
    // The namespace is a word of the owner's API group: no substring exemption.
    let mut tcp = acme_prod();
    tcp.namespace = "acme".to_string();
    tcp.owner_references[0].api_version = "payments.acme.example/v1".to_string();
    let body = r#"{"kamaji_version":"v1.0.0","owner":"payments.acme.example/v1"}"#;
    assert_eq!(
        leak_in(&Event::Created(tcp), body),
        Some(Leak::Value {
            field: "tenant-control-plane.namespace"
        })
    );
}

#[test]
fn short_strings_are_caught_whole_and_only_whole() {
    let tcp = TenantControlPlane {
        name: "t1".to_string(),
        labels: vec![key_value("tier", "7")],
        ..acme_prod()
    };
    let event = Event::Created(tcp);
    assert_eq!(
        leak_in(&event, r#"{"kamaji_version":"v1.0.0","name":"T1"}"#),
        Some(Leak::Value {
            field: "tenant-control-plane.name"
        })
    );
    assert_eq!(
        leak_in(&event, r#"{"kamaji_version":"v1.0.0","tier":"7"}"#),
        Some(Leak::Value {
            field: "tenant-control-plane.labels"
        })
    );
    // As parts of longer strings they are everywhere, and not looked for.
    assert_eq!(leak_in(&event, CLEAN_CREATE), None);
    assert_eq!(
        leak_in(&event, r#"{"kamaji_version":"v1.0.0","x":"t1-7"}"#),
        None
    );
}

#[test]
fn what_is_not_json_is_blocked() {
    let event = Event::Created(acme_prod());
    for body in ["", "kamaji_version=v1.0.0", r#"{"a": "\ud800"}"#, "{} {}"] {
        assert!(
            matches!(leak_in(&event, body), Some(Leak::NotJson { .. })),
            "{body:?}"
        );
    }
}

#[test]
fn a_leak_of_the_last_tcp_of_a_large_fleet_is_found() {
    let fleet: Vec<TenantControlPlane> = (0..20_000)
        .map(|i| TenantControlPlane {
            name: format!("tenant-{i}"),
            namespace: format!("namespace-{i}"),
            uid: format!("00000000-0000-4000-8000-{i:012}"),
            ..acme_prod()
        })
        .collect();
    let event = heartbeat(fleet);
    assert_eq!(leak_in(&event, CLEAN_STATS), None);
    assert_eq!(
        leak_in(&event, r#"{"last":"namespace-19999"}"#),
        Some(Leak::Value {
            field: "tenant-control-plane.namespace"
        })
    );
}

/// An identifying value with a dash: never part of the vocabulary.
fn identifying_value() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{1,12}(-[a-z0-9]{1,8}){1,3}"
}

/// The value as a body might copy it: any letter's case flipped, any
/// character JSON-escaped, and words of other text around it.
fn copied(value: String) -> impl Strategy<Value = String> {
    let length = value.len();
    (
        proptest::collection::vec((any::<bool>(), any::<bool>()), length),
        "([A-Za-z0-9]{0,8}[ /:_.=]){0,1}",
        "([ /:_.=,][A-Za-z0-9]{0,8}){0,1}",
    )
        .prop_map(move |(changes, before, after)| {
            let mut copy = before;
            for (character, (flip, escape)) in value.chars().zip(changes) {
                let character = if flip {
                    character.to_ascii_uppercase()
                } else {
                    character
                };
                if escape {
                    copy.push_str(&format!("\\u{:04x}", u32::from(character)));
                } else {
                    copy.push(character);
                }
            }
            copy + &after
        })
}

proptest! {
    #[test]
    fn copied_identifying_values_are_always_caught(
        (value, copy) in identifying_value().prop_flat_map(|value| (Just(value.clone()), copied(value))),
        field in 0..5_usize,
        as_key in any::<bool>(),
        nesting in 0..4_usize,
    ) {
        let mut tcp = TenantControlPlane {
            name: "x".to_string(),
            namespace: "y".to_string(),
            uid: String::new(),
            labels: Vec::new(),
            annotations: Vec::new(),
            owner_references: Vec::new(),
            ingress: None,
            gateway: None,
            network_address: None,
            endpoint: None,
            data_store: None,
            ..acme_prod()
        };
        let expected = match field {
            0 => { tcp.name = value; "tenant-control-plane.name" }
            1 => { tcp.namespace = value; "tenant-control-plane.namespace" }
            2 => { tcp.labels.push(key_value("team", &value)); "tenant-control-plane.labels" }
            3 => { tcp.annotations.push(key_value(&value, "")); "tenant-control-plane.annotations" }
            _ => { tcp.network_address = Some(value); "tenant-control-plane.network-address" }
        };
        let mut inner = if as_key {
            format!(r#"{{"{copy}":1}}"#)
        } else {
            format!(r#""{copy}""#)
        };
        for level in 0..nesting {
            inner = if level % 2 == 0 { format!("[{inner}]") } else { format!(r#"{{"n":{inner}}}"#) };
        }
        let body = format!(r#"{{"kamaji_version":"v1.0.0","detail":{inner}}}"#);
        prop_assert_eq!(
            leak_in(&Event::Created(tcp), &body),
            Some(Leak::Value { field: expected }),
            "{}", body
        );
    }

    #[test]
    fn hex_like_values_never_collide_with_a_pseudonym(
        values in proptest::collection::vec("[a-f0-9]{3,12}", 1..20),
        pseudonym in "[a-f0-9]{64}",
    ) {
        let tcp = TenantControlPlane {
            labels: values.iter().map(|value| key_value("color", value)).collect(),
            ..acme_prod()
        };
        let body = format!(r#"{{"uuid":"{pseudonym}","kamaji_version":"v1.0.0"}}"#);
        prop_assert_eq!(leak_in(&heartbeat(vec![tcp]), &body), None);
    }
}
