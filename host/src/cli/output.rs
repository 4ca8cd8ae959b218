//! JSON renderings of what plugins return, for `--output json`. Fields keep
//! the order the documentation gives them.

use kamaji_telemetry::plugin::bindings::{Description, FieldDoc, Payload, Redaction};
use serde::Serialize;
use serde_json::value::RawValue;

#[derive(Serialize)]
struct DescriptionLine<'a> {
    name: &'a str,
    version: &'a str,
    wire_schema: &'a str,
    fields: Vec<FieldLine<'a>>,
}

#[derive(Serialize)]
struct FieldLine<'a> {
    name: &'a str,
    route: &'static str,
    meaning: &'a str,
    example: &'a str,
}

impl<'a> From<&'a FieldDoc> for FieldLine<'a> {
    fn from(field: &'a FieldDoc) -> Self {
        Self {
            name: &field.name,
            route: field.route.as_str(),
            meaning: &field.meaning,
            example: &field.example,
        }
    }
}

pub fn description_json(description: &Description) -> serde_json::Result<String> {
    serde_json::to_string(&DescriptionLine {
        name: &description.name,
        version: &description.version,
        wire_schema: &description.wire_schema,
        fields: description.fields.iter().map(FieldLine::from).collect(),
    })
}

#[derive(Serialize)]
struct PayloadLine<'a> {
    route: &'static str,
    body: Body<'a>,
    redactions: Vec<RedactionLine<'a>>,
}

/// The body byte for byte as the plugin built it when it is JSON, and as a
/// string when it is not.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

#[derive(Serialize)]
struct RedactionLine<'a> {
    field: &'a str,
    action: &'static str,
    reason: &'a str,
}

impl<'a> From<&'a Redaction> for RedactionLine<'a> {
    fn from(redaction: &'a Redaction) -> Self {
        Self {
            field: &redaction.field,
            action: redaction.action.as_str(),
            reason: &redaction.reason,
        }
    }
}

/// `{"route": ..., "body": {...}, "redactions": [...]}`.
pub fn payload_json(payload: &Payload) -> serde_json::Result<String> {
    let body = serde_json::from_str::<&RawValue>(&payload.body)
        .map(Body::Json)
        .unwrap_or(Body::Text(&payload.body));
    serde_json::to_string(&PayloadLine {
        route: payload.route.as_str(),
        body,
        redactions: payload.redactions.iter().map(RedactionLine::from).collect(),
    })
}
