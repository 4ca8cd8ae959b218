//! JSON renderings of what plugins describe, for `--output json`. Fields keep
//! the order the documentation gives them. Payloads: [`kamaji_telemetry::payload_line`].

use kamaji_telemetry::model::{Description, FieldDoc, Route};
use kamaji_telemetry::plugin::ContractVersion;
use serde::Serialize;

#[derive(Serialize)]
struct DescriptionJson<'a> {
    name: &'a str,
    version: &'a str,
    contract: &'static str,
    wire_schema: &'a str,
    /// The input field groups it is shown.
    reads: Vec<&'static str>,
    /// The routes it declared; `null` when its contract has no declarations.
    routes: Option<Vec<&'static str>>,
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

pub fn description_json(
    contract: ContractVersion,
    description: &Description,
) -> serde_json::Result<String> {
    serde_json::to_string(&DescriptionJson {
        name: &description.name,
        version: &description.version,
        contract: contract.as_str(),
        wire_schema: &description.wire_schema,
        reads: description.reads.names(),
        routes: route_names(description),
        fields: description.fields.iter().map(FieldLine::from).collect(),
    })
}

/// The routes a plugin declared, by name; `None` when its contract has no
/// declarations.
pub fn route_names(description: &Description) -> Option<Vec<&'static str>> {
    let routes = description.routes.as_ref()?;
    Some(routes.iter().map(|route| route.as_str()).collect())
}

/// The declared routes in words: `stats, create`, or that there are none.
pub fn routes_text(routes: Option<&[Route]>) -> String {
    match routes {
        None => "any (its contract has no route declarations)".to_owned(),
        Some([]) => "none".to_owned(),
        Some(routes) => routes
            .iter()
            .map(|route| route.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The input field groups in words.
pub fn reads_text(description: &Description) -> String {
    if description.reads.is_all() {
        return "everything".to_owned();
    }
    let names = description.reads.names();
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}
