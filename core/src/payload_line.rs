//! One payload as one line of JSON, `{"route", "body", "redactions"}`: what
//! `preview --output json` prints, and what local mode records (with the
//! time first). Fields keep the order the documentation gives them.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::model::{Payload, Redaction};

#[derive(Serialize)]
struct PayloadLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
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

/// `{"route": ..., "body": {...}, "redactions": [...]}`, with `"at"` (RFC
/// 3339, UTC, seconds) first when a time is given.
pub fn payload_line(payload: &Payload, at: Option<SystemTime>) -> serde_json::Result<String> {
    let body = serde_json::from_str::<&RawValue>(&payload.body)
        .map(Body::Json)
        .unwrap_or(Body::Text(&payload.body));
    serde_json::to_string(&PayloadLine {
        at: at.map(|at| humantime::format_rfc3339_seconds(at).to_string()),
        route: payload.route.as_str(),
        body,
        redactions: payload.redactions.iter().map(RedactionLine::from).collect(),
    })
}
