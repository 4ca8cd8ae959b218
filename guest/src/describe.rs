//! What the plugin says about itself: one field-doc for every field it can
//! send, so an operator can read what leaves the cluster before enabling it.
//!
//! The docs of the counted fields are generated from the same vocabularies
//! ([`Bucket`], [`Driver`], [`TcpStatus`]) that the counting uses, so they
//! cannot drift from it; a test checks the list against real bodies.

use crate::fleet::{Bucket, Driver};
use crate::installation_id::NAMESPACE;
use crate::status::TcpStatus;
use crate::{Description, FieldDoc, InputFields, Route};

/// The plugin's name, as hosts show it.
pub const NAME: &str = "kamaji-telemetry-default";

/// The wire schema of every body: Kamaji's format, version 1.
pub const WIRE_SCHEMA: &str = "kamaji-telemetry/v1";

/// Where a TCP's status comes from.
const STATUS_SOURCE: &str = "status.kubernetesResources.version.status";

/// How every Kubernetes version is redacted.
const KUBERNETES_REDACTION: &str = "reduced to vMAJOR.MINOR.PATCH without provider or build suffixes, Unknown when absent or \
     unparseable";

/// The example installation id: the pseudonym of the UID in Kamaji's
/// documentation example, `56279633-3131-436b-b8f2-9008a49a2f12`.
/// What the plugin reads: the host hands it nothing else, so no name, label,
/// annotation, address or UID of a TCP ever enters its memory. The cluster
/// UID is read only to derive the installation id from it.
const READS: InputFields = InputFields::CLUSTER_UID
    .union(InputFields::VERSIONS)
    .union(InputFields::STATUS)
    .union(InputFields::EXPOSURE)
    .union(InputFields::OWNER_KINDS)
    .union(InputFields::DRIVERS);

const EXAMPLE_ID: &str = "\"f82cf93d-528f-541c-8087-4c2f5fdfae0f\"";

/// Describes the plugin and every field it can send, route by route in wire
/// order.
pub fn describe() -> Description {
    let mut fields = vec![doc(
        Route::Stats,
        "uuid",
        &format!(
            "The installation id: a name-based UUID (v5, SHA-1) of the UID of the Service \
             default/kubernetes under the plugin's namespace {NAMESPACE}. Stable per cluster; \
             the UID itself is never sent."
        ),
        EXAMPLE_ID,
    )];
    fields.extend(platform(Route::Stats));
    fields.extend(Bucket::ALL.map(bucket));
    fields.extend(Driver::ALL.into_iter().flat_map(data_store_counts));

    fields.extend(platform(Route::Create));
    fields.extend([
        tcp_version(Route::Create, "created"),
        doc(
            Route::Create,
            "cluster_api",
            "Whether Cluster API manages the TCP: true if any ownerReference has kind \
             KamajiControlPlane. Owner names and UIDs are not sent.",
            "false",
        ),
        doc(
            Route::Create,
            "network_profile",
            "How the TCP's API server is exposed: ingress if spec.controlPlane.ingress is set, \
             else load_balancer, node_port or cluster_ip from \
             spec.controlPlane.service.serviceType, else Unknown. Hostnames and addresses are \
             not sent.",
            "\"load_balancer\"",
        ),
    ]);

    fields.extend(platform(Route::Update));
    fields.extend([
        doc(
            Route::Update,
            "old_tcp_version",
            &format!(
                "The TCP's Kubernetes version before the change: the installed one \
                 (status.kubernetesResources.version.version), or the one asked for when none \
                 was installed yet; {KUBERNETES_REDACTION}."
            ),
            "\"v1.29.4\"",
        ),
        doc(
            Route::Update,
            "new_tcp_version",
            &format!(
                "The Kubernetes version now asked for (spec.kubernetes.version); {KUBERNETES_REDACTION}. \
                 An update is sent only when this changes."
            ),
            "\"v1.30.2\"",
        ),
    ]);

    fields.extend(platform(Route::Delete));
    fields.extend([tcp_version(Route::Delete, "deleted"), status()]);

    Description {
        name: NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        wire_schema: WIRE_SCHEMA.into(),
        fields,
        reads: READS,
        routes: vec![Route::Stats, Route::Create, Route::Update, Route::Delete],
    }
}

fn doc(route: Route, name: &str, meaning: &str, example: &str) -> FieldDoc {
    FieldDoc {
        name: name.into(),
        route,
        meaning: meaning.into(),
        example: example.into(),
    }
}

/// `kamaji_version` and `kubernetes_version`, which every body starts with.
fn platform(route: Route) -> [FieldDoc; 2] {
    [
        doc(
            route,
            "kamaji_version",
            "The Kamaji controller's build version, sent only as vX.Y.Z, edge-YY.M.N or dev; \
             anything else is Unknown.",
            "\"v1.0.0\"",
        ),
        doc(
            route,
            "kubernetes_version",
            &format!(
                "The management cluster's Kubernetes version (its GitVersion), {KUBERNETES_REDACTION}."
            ),
            "\"v1.30.2\"",
        ),
    ]
}

/// `tcp_version` of a created or deleted TCP.
fn tcp_version(route: Route, event: &str) -> FieldDoc {
    doc(
        route,
        "tcp_version",
        &format!(
            "The Kubernetes version asked for by the {event} TCP (spec.kubernetes.version), \
             {KUBERNETES_REDACTION}."
        ),
        "\"v1.30.2\"",
    )
}

/// `status` of a deleted TCP: its statuses are listed from [`TcpStatus::ALL`].
fn status() -> FieldDoc {
    doc(
        Route::Delete,
        "status",
        &format!(
            "The deleted TCP's status ({STATUS_SOURCE}), one of {}; anything else, or none, is \
             Unknown.",
            list(TcpStatus::ALL.map(TcpStatus::as_str))
        ),
        "\"Ready\"",
    )
}

/// `tenant_control_plane.<bucket>`: its statuses are those [`Bucket::of`] maps
/// to it, so the doc follows the counting rule.
fn bucket(bucket: Bucket) -> FieldDoc {
    let statuses = TcpStatus::ALL
        .into_iter()
        .filter(|s| Bucket::of(*s) == bucket);
    // Running also takes whatever is not one of Kamaji's statuses.
    let rest: &[&str] = match bucket {
        Bucket::Running => &["any other value", "absent"],
        _ => &[],
    };
    let which = list(statuses.map(TcpStatus::as_str).chain(rest.iter().copied()));
    doc(
        Route::Stats,
        &format!("tenant_control_plane.{}", bucket.wire_key()),
        &format!("The number of TCPs whose status ({STATUS_SOURCE}) is {which}."),
        "1",
    )
}

/// `datastores.<driver>.count` and `datastores.<driver>.used_by_count`.
fn data_store_counts(driver: Driver) -> [FieldDoc; 2] {
    let (key, spec) = (driver.wire_key(), driver.spec_name());
    [
        doc(
            Route::Stats,
            &format!("datastores.{key}.count"),
            &format!(
                "The number of DataStores whose spec.driver is {spec}. Their names are not sent."
            ),
            "1",
        ),
        doc(
            Route::Stats,
            &format!("datastores.{key}.used_by_count"),
            &format!(
                "The number of TCPs using the DataStores whose spec.driver is {spec}: the total \
                 length of their status.usedBy lists, whose entries are not sent."
            ),
            "2",
        ),
    ]
}

/// `a`, `a or b`, `a, b or c`.
fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<_> = items.into_iter().collect();
    match items.split_last() {
        Some((last, [])) => (*last).into(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fixtures::{body, route_name, sample_events};
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// Every leaf of a JSON body, as a dotted path, with its value.
    fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(fields) => {
                for (name, value) in fields {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    leaves(&path, value, out);
                }
            }
            leaf => {
                out.insert(prefix.into(), leaf.clone());
            }
        }
    }

    /// What the sample events' bodies actually contain, by (route, path).
    fn emitted() -> BTreeMap<(&'static str, String), Value> {
        let mut emitted = BTreeMap::new();
        for (route, body) in sample_events().iter().map(body) {
            let mut fields = BTreeMap::new();
            leaves("", &body, &mut fields);
            for (path, value) in fields {
                emitted.insert((route_name(route), path), value);
            }
        }
        emitted
    }

    #[test]
    fn every_emitted_field_has_exactly_one_doc_and_vice_versa() {
        let documented: Vec<_> = describe()
            .fields
            .into_iter()
            .map(|f| (route_name(f.route), f.name))
            .collect();
        let mut unique = documented.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            documented.len(),
            "a field is documented twice"
        );
        let emitted: Vec<_> = emitted().into_keys().collect();
        assert_eq!(unique, emitted);
    }

    #[test]
    fn examples_are_json_of_the_emitted_type() {
        let emitted = emitted();
        for field in describe().fields {
            let example: Value = serde_json::from_str(&field.example).expect(&field.example);
            let sent = &emitted[&(route_name(field.route), field.name.clone())];
            let kind = |v: &Value| core::mem::discriminant(v);
            assert_eq!(kind(&example), kind(sent), "{}", field.name);
        }
    }

    #[test]
    fn uuid_example_is_the_pseudonym_of_the_documentation_uid() {
        let id =
            crate::installation_id::InstallationId::derive("56279633-3131-436b-b8f2-9008a49a2f12");
        assert_eq!(id.map(|id| format!("\"{id}\"")), Ok(EXAMPLE_ID.into()));
    }

    #[test]
    fn identity() {
        let description = describe();
        assert_eq!(description.name, "kamaji-telemetry-default");
        // What operators see in `plugin describe` and /metrics: bumped with
        // the plugin, on purpose.
        assert_eq!(description.version, "0.1.0");
        assert_eq!(description.wire_schema, "kamaji-telemetry/v1");
        assert!(description.fields.iter().all(|f| !f.meaning.is_empty()));
    }

    #[test]
    fn generated_meanings_follow_the_counting_rules() {
        let fields = describe().fields;
        let meaning = |name: &str| {
            fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.meaning.clone())
        };
        let running = meaning("tenant_control_plane.running").unwrap_or_default();
        assert!(
            running.contains("Ready") && running.ends_with("any other value or absent."),
            "{running}"
        );
        assert!(!running.contains("Sleeping"), "{running}");
        let postgres = meaning("datastores.postgres.count").unwrap_or_default();
        assert!(postgres.contains("PostgreSQL"), "{postgres}");
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(list([]), "");
        assert_eq!(list(["a"]), "a");
        assert_eq!(list(["a", "b"]), "a or b");
        assert_eq!(list(["a", "b", "c"]), "a, b or c");
    }
}
