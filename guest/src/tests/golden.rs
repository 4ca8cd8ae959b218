//! Kamaji's four documentation examples, reproduced field by field.
//!
//! The documentation shows a simplified, flat heartbeat; the wire nests the
//! counts under `tenant_control_plane`, so its flat counts are looked up
//! there. Its `uuid` is the raw cluster UID, which this plugin replaces by
//! the pseudonym. The event examples predate `cluster_api` and
//! `network_profile`, which the wire format adds to `create`.
//!
//! The inputs carry identifying data throughout: the bodies must not change.

use super::fixtures::{DOC_ID, DOC_UID, body, identified_tcp, payload, tcp, upgrade};
use crate::{Event, Fleet, Route, TenantControlPlane};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const DOC_STATS: &str = r#"{"uuid": "56279633-3131-436b-b8f2-9008a49a2f12", "running": 1, "sleeping": 0, "not_ready": 0, "upgrading": 0, "kamaji_version": "v0.6.1", "kubernetes_version": "v1.27.3"}"#;
const DOC_CREATE: &str =
    r#"{"tcp_version": "v1.26.0", "kamaji_version": "v0.6.1", "kubernetes_version": "v1.27.3"}"#;
const DOC_UPDATE: &str = r#"{"kamaji_version": "v0.6.1", "new_tcp_version": "v1.27.0", "old_tcp_version": "v1.26.0", "kubernetes_version": "v1.27.3"}"#;
const DOC_DELETE: &str = r#"{"status": "Ready", "tcp_version": "v1.27.0", "kamaji_version": "v0.6.1", "kubernetes_version": "v1.27.3"}"#;

/// The documentation example's fields, by name.
fn doc_fields(example: &str) -> Map<String, Value> {
    match serde_json::from_str(example) {
        Ok(Value::Object(fields)) => fields,
        other => panic!("not a JSON object: {other:?}"),
    }
}

/// A body's value at a dotted path.
fn at<'a>(body: &'a Value, path: &str) -> &'a Value {
    body.pointer(&format!("/{}", path.replace('.', "/")))
        .unwrap_or_else(|| panic!("{path} is missing from {body}"))
}

/// Checks each documented field against the body at `path_of(name)`, and
/// that the body's top-level fields are those paths' roots plus `extra`.
fn assert_documented(
    documented: &Map<String, Value>,
    body: &Value,
    path_of: fn(&str) -> String,
    extra: &[&str],
) {
    let mut expected: BTreeSet<String> = extra.iter().map(|name| name.to_string()).collect();
    for (name, value) in documented {
        let path = path_of(name);
        assert_eq!(at(body, &path), value, "{name}");
        expected.extend(path.split('.').next().map(String::from));
    }
    let sent: BTreeSet<String> = body
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys().cloned())
        .collect();
    assert_eq!(sent, expected);
}

/// The event examples use the wire's names.
fn same(name: &str) -> String {
    name.into()
}

/// The flat heartbeat's counts are nested on the wire.
fn nested(name: &str) -> String {
    match name {
        "running" | "upgrading" | "not_ready" | "sleeping" => {
            format!("tenant_control_plane.{name}")
        }
        _ => name.into(),
    }
}

#[test]
fn stats_reproduces_the_flat_documentation_example_nested() {
    let ready = TenantControlPlane {
        status: Some("Ready".into()),
        ..identified_tcp()
    };
    let event = Event::Heartbeat(Fleet {
        tenant_control_planes: vec![ready],
        data_stores: vec![],
    });
    let (route, body) = body(&event);
    assert_eq!(route, Route::Stats);

    // The documented uuid is the raw UID; the plugin sends its pseudonym.
    let mut documented = doc_fields(DOC_STATS);
    assert_eq!(
        documented.insert("uuid".into(), DOC_ID.into()),
        Some(DOC_UID.into())
    );
    assert_documented(&documented, &body, nested, &["datastores"]);
    assert_ne!(at(&body, "uuid"), DOC_UID);
    for key in ["etcd", "postgres", "mysql", "nats"] {
        let zero = json!({"count": 0, "used_by_count": 0});
        assert_eq!(at(&body, &format!("datastores.{key}")), &zero);
    }

    assert_eq!(
        payload(&event).body,
        r#"{"uuid":"f82cf93d-528f-541c-8087-4c2f5fdfae0f","kamaji_version":"v0.6.1","kubernetes_version":"v1.27.3","tenant_control_plane":{"running":1,"upgrading":0,"not_ready":0,"sleeping":0},"datastores":{"etcd":{"count":0,"used_by_count":0},"postgres":{"count":0,"used_by_count":0},"mysql":{"count":0,"used_by_count":0},"nats":{"count":0,"used_by_count":0}}}"#
    );
}

#[test]
fn create_reproduces_the_documentation_example() {
    let created = TenantControlPlane {
        desired_version: Some("v1.26.0".into()),
        ingress: None,
        owner_references: vec![],
        ..identified_tcp()
    };
    let event = Event::Created(created);
    let (route, body) = body(&event);
    assert_eq!(route, Route::Create);
    assert_documented(
        &doc_fields(DOC_CREATE),
        &body,
        same,
        &["cluster_api", "network_profile"],
    );
    assert_eq!(at(&body, "cluster_api"), false);
    assert_eq!(at(&body, "network_profile"), "load_balancer");
    assert_eq!(
        payload(&event).body,
        r#"{"kamaji_version":"v0.6.1","kubernetes_version":"v1.27.3","tcp_version":"v1.26.0","cluster_api":false,"network_profile":"load_balancer"}"#
    );
}

#[test]
fn update_reproduces_the_documentation_example() {
    let event = Event::Updated(upgrade("v1.26.0", "v1.27.0"));
    let (route, body) = body(&event);
    assert_eq!(route, Route::Update);
    assert_documented(&doc_fields(DOC_UPDATE), &body, same, &[]);
    assert_eq!(
        payload(&event).body,
        r#"{"kamaji_version":"v0.6.1","kubernetes_version":"v1.27.3","old_tcp_version":"v1.26.0","new_tcp_version":"v1.27.0"}"#
    );
}

#[test]
fn delete_reproduces_the_documentation_example() {
    let deleted = TenantControlPlane {
        desired_version: Some("v1.27.0".into()),
        status: Some("Ready".into()),
        ..identified_tcp()
    };
    let event = Event::Deleted(deleted);
    let (route, body) = body(&event);
    assert_eq!(route, Route::Delete);
    assert_documented(&doc_fields(DOC_DELETE), &body, same, &[]);
    assert_eq!(
        payload(&event).body,
        r#"{"kamaji_version":"v0.6.1","kubernetes_version":"v1.27.3","tcp_version":"v1.27.0","status":"Ready"}"#
    );
}

#[test]
fn identifying_data_does_not_change_a_body() {
    let bare = TenantControlPlane {
        desired_version: Some("v1.26.0".into()),
        status: Some("Ready".into()),
        service_type: Some("LoadBalancer".into()),
        ..tcp()
    };
    let identified = TenantControlPlane {
        desired_version: bare.desired_version.clone(),
        ingress: None,
        owner_references: vec![],
        ..identified_tcp()
    };
    for event in [Event::Created, Event::Deleted] {
        assert_eq!(
            payload(&event(bare.clone())).body,
            payload(&event(identified.clone())).body
        );
    }
}
