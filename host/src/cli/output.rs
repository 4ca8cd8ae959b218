//! JSON renderings of what plugins return, for `--output json`.

use kamaji_telemetry::plugin::bindings::{Description, Payload, Redaction};
use serde_json::{Value, json};

pub fn description_json(description: &Description) -> Value {
    let fields: Vec<Value> = description
        .fields
        .iter()
        .map(|field| {
            json!({
                "name": field.name,
                "route": field.route.as_str(),
                "meaning": field.meaning,
                "example": field.example,
            })
        })
        .collect();
    json!({
        "name": description.name,
        "version": description.version,
        "wire_schema": description.wire_schema,
        "fields": fields,
    })
}

/// `{"route": ..., "body": {...}, "redactions": [...]}`. The body is embedded
/// as JSON when it parses, and as a string when it does not.
pub fn payload_json(payload: &Payload) -> Value {
    let body = serde_json::from_str(&payload.body).unwrap_or_else(|_| Value::String(payload.body.clone()));
    json!({
        "route": payload.route.as_str(),
        "body": body,
        "redactions": payload.redactions.iter().map(redaction_json).collect::<Vec<_>>(),
    })
}

fn redaction_json(redaction: &Redaction) -> Value {
    json!({
        "field": redaction.field,
        "action": redaction.action.as_str(),
        "reason": redaction.reason,
    })
}
