//! The JSON and the YAML reader follow one rule: a field of a group the
//! reader is not shown is skipped unread, so its type is checked in neither;
//! a field it is shown must have its type in both. Each object here is
//! written once, as a JSON value, and fed to both readers: as JSON text, and
//! as the block YAML that `kubectl get -o yaml` would print of it.

use kamaji_telemetry_core::kube::{DecodeError, decode_stream};
use kamaji_telemetry_core::model::{Event, InputFields};
use serde_json::{Value, json};

/// `value` as block YAML, strings quoted (YAML reads JSON's quoting alike),
/// numbers and booleans plain, as kubectl prints them.
fn block_yaml(value: &Value) -> String {
    yaml_lines(value, "")
}

/// The lines of a non-empty map or list, each indented by `indent`.
fn yaml_lines(value: &Value, indent: &str) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                format!(
                    "{indent}{}:{}",
                    Value::from(key.as_str()),
                    after(value, indent)
                )
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| format!("{indent}-{}", after(item, indent)))
            .collect(),
        scalar => panic!("a document is a map, not {scalar}"),
    }
}

/// What follows a key or a list's dash: a nested block, or a value on the
/// same line (scalars, and empty maps and lists, in JSON's flow style).
fn after(value: &Value, indent: &str) -> String {
    let nested = match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    };
    if nested {
        format!("\n{}", yaml_lines(value, &format!("{indent}  ")))
    } else {
        format!(" {value}\n")
    }
}

/// A document's event, or its error's document and text.
type Outcome = Result<Event, (usize, String)>;

/// What a reader shown `shown` makes of the one document `text`.
fn read(text: &str, shown: InputFields) -> Outcome {
    let mut documents: Vec<_> = decode_stream(text.as_bytes()).showing(shown).collect();
    assert_eq!(documents.len(), 1, "{text}\n{documents:?}");
    documents.remove(0).map(|decoded| decoded.event).map_err(
        |DecodeError {
             document, cause, ..
         }| (document, cause.to_string()),
    )
}

/// What the JSON reader and the YAML reader make of `object`, for a reader
/// shown `shown`.
fn read_both(object: &Value, shown: InputFields) -> (Outcome, Outcome) {
    let (json, yaml) = (object.to_string(), block_yaml(object));
    (read(&json, shown), read(&yaml, shown))
}

fn kamaji(kind: &str, fields: Value) -> Value {
    let mut object = json!({"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": kind});
    let (Value::Object(object_fields), Value::Object(fields)) = (&mut object, fields) else {
        panic!("objects are maps")
    };
    object_fields.extend(fields);
    object
}

/// Objects with one field of the wrong type, and the group that shows it.
fn malformed() -> Vec<(&'static str, Value, InputFields)> {
    let tcp = |fields| kamaji("TenantControlPlane", fields);
    let store = |fields| kamaji("DataStore", fields);
    vec![
        (
            "a name that is a number",
            tcp(json!({"metadata": {"name": 1}})),
            // A DataStore's name is `data-store-names`, and an object's kind
            // may come after its metadata: both groups read the name.
            InputFields::IDENTITY | InputFields::DATA_STORE_NAMES,
        ),
        (
            "labels that are a string",
            tcp(json!({"metadata": {"labels": "x"}})),
            InputFields::LABELS,
        ),
        (
            "a label value that is a boolean",
            tcp(json!({"metadata": {"labels": {"a": true}}})),
            InputFields::LABELS,
        ),
        (
            "owner references that are a map",
            tcp(json!({"metadata": {"ownerReferences": {}}})),
            InputFields::OWNER_KINDS | InputFields::OWNER_IDENTITY,
        ),
        (
            "a version that is a number",
            tcp(json!({"spec": {"kubernetes": {"version": 1.3}}})),
            InputFields::VERSIONS,
        ),
        (
            "an ingress hostname that is a list",
            tcp(json!({"spec": {"controlPlane": {"ingress": {"hostname": ["a"]}}}})),
            InputFields::ADDRESSES,
        ),
        (
            "a status that is a number",
            tcp(json!({"status": {"kubernetesResources": {"version": {"status": 2}}}})),
            InputFields::STATUS,
        ),
        (
            "a driver that is a number",
            store(json!({"spec": {"driver": 1}})),
            InputFields::DRIVERS,
        ),
        (
            "a user that is a number",
            store(json!({"status": {"usedBy": [1]}})),
            InputFields::USED_BY,
        ),
    ]
}

#[test]
fn a_field_of_the_wrong_type_is_an_error_in_both_readers_when_it_is_read() {
    for (what, object, group) in malformed() {
        let (json, yaml) = read_both(&object, group);
        let (Err((1, json)), Err((1, yaml))) = (&json, &yaml) else {
            panic!("{what}: an error naming document 1 in both: {json:?}, {yaml:?}")
        };
        assert!(json.contains("invalid JSON"), "{what}: {json}");
        assert!(yaml.contains("invalid YAML"), "{what}: {yaml}");
    }
}

#[test]
fn a_field_of_the_wrong_type_is_skipped_unchecked_by_both_readers_when_it_is_not_read() {
    for (what, object, group) in malformed() {
        let (json, yaml) = read_both(&object, InputFields::all().difference(group));
        assert!(json.is_ok(), "{what}: {json:?}");
        assert_eq!(json, yaml, "{what}");
    }
}

/// A TenantControlPlane and a DataStore with every mapped field, and a
/// field that is never read.
fn filled() -> [Value; 2] {
    let tcp = kamaji(
        "TenantControlPlane",
        json!({
            "metadata": {
                "name": "acme", "namespace": "tenants", "uid": "u-1",
                "labels": {"team": "payments"}, "annotations": {"note": "x"},
                "ownerReferences": [{"apiVersion": "controlplane.cluster.x-k8s.io/v1alpha1",
                    "kind": "KamajiControlPlane", "name": "owner", "uid": "u-2"}]
            },
            "spec": {
                "kubernetes": {"version": "v1.30.2"},
                "controlPlane": {
                    "service": {"serviceType": "LoadBalancer"},
                    "ingress": {"hostname": "k8s.acme.example", "ingressClassName": "nginx"},
                    "gateway": {"hostname": "gw.acme.example"}
                },
                "networkProfile": {"address": "198.51.100.7"},
                "dataStore": "etcd-a",
                "unread": {"replicas": 3}
            },
            "status": {
                "kubernetesResources": {"version": {"version": "v1.30.1", "status": "Ready"}},
                "controlPlaneEndpoint": "198.51.100.7:6443"
            }
        }),
    );
    let store = kamaji(
        "DataStore",
        json!({
            "metadata": {"name": "etcd-a"},
            "spec": {"driver": "etcd"},
            "status": {"usedBy": ["tenants/acme"]}
        }),
    );
    [tcp, store]
}

/// Each reader gives a reader shown one group the events it gives a reader
/// shown everything, withheld for that group: the decoder skips no field
/// that withholding would show, and builds none that it would not.
#[test]
fn both_readers_give_what_withholding_shows_of_every_field() {
    for object in filled() {
        let (json, yaml) = read_both(&object, InputFields::all());
        assert_eq!(json, yaml);
        let everything = json.expect("a filled object decodes");
        for (group, name, _) in InputFields::GROUPS {
            let mut expected = everything.clone();
            expected.withhold(group);
            let (json, yaml) = read_both(&object, group);
            assert_eq!(json.as_ref(), Ok(&expected), "JSON, {name}");
            assert_eq!(yaml.as_ref(), Ok(&expected), "YAML, {name}");
        }
    }
}
