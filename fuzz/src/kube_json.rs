//! The model as the Kubernetes JSON that the host decodes: an AdmissionReview
//! for a created, updated or deleted TCP, a `List` for a heartbeat.

use serde_json::{Map, Value, json};

use crate::contract::{map_entries, render};
use crate::model::{DataStoreModel, EventModel, OwnerModel, TcpModel, Text};

const KAMAJI_API_VERSION: &str = "kamaji.clastix.io/v1alpha1";

/// The document that the decoder turns into the case's event.
pub fn kube_json(event: &EventModel) -> Value {
    match event {
        EventModel::Created(tcp) => admission("CREATE", Some(tcp), None),
        EventModel::Updated { previous, current } => {
            admission("UPDATE", Some(current), Some(previous))
        }
        EventModel::Deleted(tcp) => admission("DELETE", None, Some(tcp)),
        EventModel::Heartbeat { tcps, data_stores } => {
            let items = tcps
                .iter()
                .map(tenant_control_plane)
                .chain(data_stores.iter().map(data_store));
            json!({"apiVersion": "v1", "kind": "List", "items": items.collect::<Vec<_>>()})
        }
    }
}

fn admission(operation: &str, object: Option<&TcpModel>, old: Option<&TcpModel>) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "kamaji.clastix.io", "version": "v1alpha1", "kind": "TenantControlPlane"},
            "operation": operation,
            "object": object.map(tenant_control_plane),
            "oldObject": old.map(tenant_control_plane),
        }
    })
}

fn tenant_control_plane(tcp: &TcpModel) -> Value {
    let mut spec = Map::new();
    let mut control_plane = Map::new();
    insert(
        &mut control_plane,
        "service",
        tcp.service_type
            .as_ref()
            .map(|t| json!({"serviceType": t.render()})),
    );
    insert(
        &mut control_plane,
        "ingress",
        tcp.ingress.as_ref().map(|(hostname, class)| {
            optional_fields(&[("hostname", hostname), ("ingressClassName", class)])
        }),
    );
    insert(
        &mut control_plane,
        "gateway",
        tcp.gateway
            .as_ref()
            .map(|hostname| optional_fields(&[("hostname", hostname)])),
    );
    spec.insert("controlPlane".into(), control_plane.into());
    insert(
        &mut spec,
        "kubernetes",
        tcp.desired_version
            .as_ref()
            .map(|v| json!({"version": v.render()})),
    );
    insert(
        &mut spec,
        "networkProfile",
        tcp.network_address
            .as_ref()
            .map(|a| json!({"address": a.render()})),
    );
    insert(
        &mut spec,
        "dataStore",
        render(&tcp.data_store).map(Value::from),
    );
    let mut status = Map::new();
    let version = optional_fields(&[("version", &tcp.installed_version), ("status", &tcp.status)]);
    status.insert("kubernetesResources".into(), json!({"version": version}));
    insert(
        &mut status,
        "controlPlaneEndpoint",
        render(&tcp.endpoint).map(Value::from),
    );
    json!({
        "apiVersion": KAMAJI_API_VERSION,
        "kind": "TenantControlPlane",
        "metadata": {
            "name": tcp.name.render(),
            "namespace": tcp.namespace.render(),
            "uid": tcp.uid.render(),
            "labels": map_entries(&tcp.labels),
            "annotations": map_entries(&tcp.annotations),
            "ownerReferences": tcp.owners.iter().map(owner).collect::<Vec<_>>(),
        },
        "spec": spec,
        "status": status,
    })
}

fn owner(owner: &OwnerModel) -> Value {
    json!({
        "apiVersion": owner.api_version.render(),
        "kind": owner.kind.render(),
        "name": owner.name.render(),
        "uid": owner.uid.render(),
        "controller": true,
    })
}

fn data_store(store: &DataStoreModel) -> Value {
    json!({
        "apiVersion": KAMAJI_API_VERSION,
        "kind": "DataStore",
        "metadata": {"name": store.name.render()},
        "spec": {"driver": store.driver.render()},
        "status": {"usedBy": store.used_by.iter().map(Text::render).collect::<Vec<_>>()},
    })
}

/// An object of the fields that are present.
fn optional_fields(fields: &[(&str, &Option<Text>)]) -> Value {
    let mut object = Map::new();
    for (key, value) in fields {
        insert(&mut object, key, render(value).map(Value::from));
    }
    object.into()
}

fn insert(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}
