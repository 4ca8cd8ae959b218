//! Between the host's model and the values jco gives or takes for the
//! contract's types: field for field as the host's adapters
//! (`host/src/plugin/contract/`), in jco's JavaScript shapes.

use kamaji_telemetry_core::model::{
    DataStore, Description, Event, FieldDoc, InputFields, Installation, KeyValue, Payload,
    PluginError, Redaction, RedactionAction, Route, TenantControlPlane,
};
use serde_json::{Value, json};

/// A version of the plugin contract, as the page detects it from the
/// exports of the transpiled plugin (`handle` or `handleBatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1_0,
    V0_2_0,
}

impl Contract {
    pub fn parse(version: &str) -> Result<Self, String> {
        match version {
            "0.1.0" => Ok(Contract::V0_1_0),
            "0.2.0" => Ok(Contract::V0_2_0),
            other => Err(format!(
                "contract {other:?} is not one this page speaks (0.1.0, 0.2.0)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V0_1_0 => "0.1.0",
            Contract::V0_2_0 => "0.2.0",
        }
    }

    /// Whether its plugins declare what they read and where they send.
    pub fn declares(self) -> bool {
        self == Contract::V0_2_0
    }
}

/// `cluster-uid` as jco names a flag or field: `clusterUid`.
pub fn camel(kebab: &str) -> String {
    let mut out = String::with_capacity(kebab.len());
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn string(value: &Value, field: &str) -> Result<String, String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{field} is not a string"))
}

fn route(value: &Value) -> Result<Route, String> {
    let name = value.as_str().ok_or("a route is not a string")?;
    Route::ALL
        .into_iter()
        .find(|route| route.as_str() == name)
        .ok_or_else(|| format!("{name:?} is not a route"))
}

pub fn lift_description(contract: Contract, value: &Value) -> Result<Description, String> {
    let fields = value
        .get("fields")
        .and_then(Value::as_array)
        .ok_or("fields is not a list")?
        .iter()
        .map(|field| {
            Ok(FieldDoc {
                name: string(field, "name")?,
                route: route(field.get("route").unwrap_or(&Value::Null))?,
                meaning: string(field, "meaning")?,
                example: string(field, "example")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (reads, routes) = match contract {
        // Without declarations, it is shown everything and may send anywhere.
        Contract::V0_1_0 => (InputFields::all(), None),
        Contract::V0_2_0 => {
            let flags = value.get("reads").ok_or("reads is missing")?;
            let reads = InputFields::GROUPS
                .iter()
                .filter(|(_, name, _)| {
                    flags.get(camel(name)).and_then(Value::as_bool) == Some(true)
                })
                .fold(InputFields::empty(), |reads, (group, _, _)| reads | *group);
            let routes = value
                .get("routes")
                .and_then(Value::as_array)
                .ok_or("routes is not a list")?
                .iter()
                .map(route)
                .collect::<Result<Vec<_>, String>>()?;
            (reads, Some(routes))
        }
    };
    Ok(Description {
        name: string(value, "name")?,
        version: string(value, "version")?,
        wire_schema: string(value, "wireSchema")?,
        fields,
        reads,
        routes,
    })
}

pub fn lift_installation(value: &Value) -> Result<Installation, String> {
    Ok(Installation {
        cluster_uid: string(value, "clusterUid")?,
        kamaji_version: string(value, "kamajiVersion")?,
        kubernetes_version: string(value, "kubernetesVersion")?,
    })
}

pub fn lower_installation(installation: &Installation) -> Value {
    json!({
        "clusterUid": installation.cluster_uid,
        "kamajiVersion": installation.kamaji_version,
        "kubernetesVersion": installation.kubernetes_version,
    })
}

pub fn lower_event(contract: Contract, event: &Event) -> Value {
    match event {
        Event::Created(tcp) => json!({"tag": "created", "val": lower_tcp(tcp)}),
        Event::Updated(update) => json!({"tag": "updated", "val": {
            "previous": lower_tcp(&update.previous),
            "current": lower_tcp(&update.current),
        }}),
        Event::Deleted(tcp) => json!({"tag": "deleted", "val": lower_tcp(tcp)}),
        Event::Heartbeat(fleet) => json!({"tag": "heartbeat", "val": {
            "tenantControlPlanes": fleet.tenant_control_planes.iter().map(lower_tcp).collect::<Vec<_>>(),
            "dataStores": fleet.data_stores.iter().map(|store| lower_data_store(contract, store)).collect::<Vec<_>>(),
        }}),
    }
}

fn lower_pairs(pairs: &[KeyValue]) -> Value {
    pairs
        .iter()
        .map(|pair| json!({"key": pair.key, "value": pair.value}))
        .collect()
}

fn lower_tcp(tcp: &TenantControlPlane) -> Value {
    json!({
        "name": tcp.name,
        "namespace": tcp.namespace,
        "uid": tcp.uid,
        "labels": lower_pairs(&tcp.labels),
        "annotations": lower_pairs(&tcp.annotations),
        "ownerReferences": tcp.owner_references.iter().map(|owner| json!({
            "apiVersion": owner.api_version,
            "kind": owner.kind,
            "name": owner.name,
            "uid": owner.uid,
        })).collect::<Vec<_>>(),
        "desiredVersion": tcp.desired_version,
        "installedVersion": tcp.installed_version,
        "status": tcp.status,
        "serviceType": tcp.service_type,
        "ingress": tcp.ingress.as_ref().map(|ingress| json!({
            "hostname": ingress.hostname,
            "className": ingress.class_name,
        })),
        "gateway": tcp.gateway.as_ref().map(|gateway| json!({"hostname": gateway.hostname})),
        "networkAddress": tcp.network_address,
        "endpoint": tcp.endpoint,
        "dataStore": tcp.data_store,
    })
}

/// As the host's adapters: 0.1.0 takes the `used-by` list as shown (withheld
/// entries are empty strings), 0.2.0 the count beside only the entries shown.
fn lower_data_store(contract: Contract, store: &DataStore) -> Value {
    match contract {
        Contract::V0_1_0 => json!({
            "name": store.name,
            "driver": store.driver,
            "usedBy": store.used_by,
        }),
        Contract::V0_2_0 => json!({
            "name": store.name,
            "driver": store.driver,
            "usedBy": store.used_by.iter().filter(|user| !user.is_empty()).collect::<Vec<_>>(),
            "usedByCount": u32::try_from(store.used_by.len()).unwrap_or(u32::MAX),
        }),
    }
}

/// One answer: `{tag: "ok", val?: payload}`, `{tag: "err", val: error}` (a
/// string for 0.1.0, a `plugin-error` variant for 0.2.0), or `{tag:
/// "failed", val: message}` when the call itself failed (a trap, the
/// deadline). `Err` is the message to show.
pub fn lift_answer(answer: &Value) -> Result<Option<Payload>, String> {
    let val = answer.get("val").unwrap_or(&Value::Null);
    match answer.get("tag").and_then(Value::as_str) {
        Some("ok") if val.is_null() => Ok(None),
        Some("ok") => lift_payload(val)
            .map(Some)
            .map_err(|error| format!("the plugin returned a malformed payload: {error}")),
        Some("err") => Err(format!("the plugin refused the event: {}", lift_error(val))),
        Some("failed") => Err(val.as_str().unwrap_or("the call failed").to_owned()),
        _ => Err("the plugin gave an answer of no known shape".to_owned()),
    }
}

fn lift_error(error: &Value) -> PluginError {
    if let Some(message) = error.as_str() {
        return PluginError::Untyped(message.to_owned());
    }
    let message = error
        .get("val")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match error.get("tag").and_then(Value::as_str) {
        Some("malformed-input") => PluginError::MalformedInput(message),
        Some("unsupported-event") => PluginError::UnsupportedEvent(message),
        Some("internal") => PluginError::Internal(message),
        _ => PluginError::Untyped(error.to_string()),
    }
}

fn lift_payload(payload: &Value) -> Result<Payload, String> {
    Ok(Payload {
        route: route(payload.get("route").unwrap_or(&Value::Null))?,
        body: string(payload, "body")?,
        redactions: payload
            .get("redactions")
            .and_then(Value::as_array)
            .ok_or("redactions is not a list")?
            .iter()
            .map(|redaction| {
                Ok(Redaction {
                    field: string(redaction, "field")?,
                    action: match redaction.get("action").and_then(Value::as_str) {
                        Some("dropped") => RedactionAction::Dropped,
                        Some("normalised") => RedactionAction::Normalised,
                        Some("pseudonymised") => RedactionAction::Pseudonymised,
                        other => return Err(format!("{other:?} is not a redaction action")),
                    },
                    reason: string(redaction, "reason")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
    })
}
