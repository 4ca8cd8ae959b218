//! An account of a body that does not rely on the leak guard: every string in
//! a body of the default plugin must come from a closed grammar, so that no
//! input string can be in it whatever the input was.

use kamaji_telemetry_plugin::versions::{KamajiVersion, KubernetesVersion};
use serde_json::Value;

/// The keys of Kamaji's wire format v1 (kamaji-telemetry-facts.md).
const KEYS: &[&str] = &[
    "uuid",
    "kamaji_version",
    "kubernetes_version",
    "tenant_control_plane",
    "running",
    "upgrading",
    "not_ready",
    "sleeping",
    "datastores",
    "etcd",
    "postgres",
    "mysql",
    "nats",
    "count",
    "used_by_count",
    "tcp_version",
    "cluster_api",
    "network_profile",
    "old_tcp_version",
    "new_tcp_version",
    "status",
];

/// The values of the closed enumerations: TCP statuses and network profiles.
const VALUES: &[&str] = &[
    "Unknown",
    "Provisioning",
    "CertificateAuthorityRotating",
    "Upgrading",
    "Migrating",
    "Ready",
    "NotReady",
    "Sleeping",
    "WriteLimited",
    "ingress",
    "load_balancer",
    "node_port",
    "cluster_ip",
];

/// The first string of `body` that is outside the grammar, if any: a key
/// that is not a wire key, or a value that is neither an enumeration value,
/// nor a version as the normalisers render it, nor a version 5 UUID other
/// than the cluster UID. A body that is not JSON is returned whole.
pub fn unexpected_body_string(body: &str, cluster_uid: &str) -> Option<String> {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Some(body.to_owned());
    };
    first_unexpected(&value, cluster_uid)
}

fn first_unexpected(value: &Value, cluster_uid: &str) -> Option<String> {
    match value {
        Value::Object(fields) => fields.iter().find_map(|(key, value)| {
            if KEYS.contains(&key.as_str()) {
                first_unexpected(value, cluster_uid)
            } else {
                Some(key.clone())
            }
        }),
        Value::Array(items) => items
            .iter()
            .find_map(|item| first_unexpected(item, cluster_uid)),
        Value::String(text) => (!allowed_value(text, cluster_uid)).then(|| text.clone()),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

fn allowed_value(text: &str, cluster_uid: &str) -> bool {
    VALUES.contains(&text)
        || KubernetesVersion::parse(text).to_string() == text
        || KamajiVersion::parse(text).to_string() == text
        || is_pseudonym(text, cluster_uid)
}

/// A version 5 UUID in lowercase hyphenated form that is not the cluster UID
/// in any spelling.
fn is_pseudonym(text: &str, cluster_uid: &str) -> bool {
    let Ok(uuid) = uuid::Uuid::try_parse(text) else {
        return false;
    };
    let raw = uuid::Uuid::try_parse(cluster_uid).ok();
    uuid.get_version_num() == 5 && uuid.hyphenated().to_string() == text && raw != Some(uuid)
}
