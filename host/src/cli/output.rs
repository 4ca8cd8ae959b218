//! JSON renderings of what plugins describe, for `--output json`. Fields keep
//! the order the documentation gives them. Payloads: [`kamaji_telemetry::payload_line`].

use kamaji_telemetry::plugin::bindings::{Description, FieldDoc};
use serde::Serialize;

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
