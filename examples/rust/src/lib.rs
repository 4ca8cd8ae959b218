//! A minimal kamaji-telemetry plugin in Rust (contract wit/0.1.0).
//!
//! It reports one thing: that a TenantControlPlane was created, and the
//! Kubernetes version it asked for, cut to MAJOR.MINOR. Every other event
//! gives no payload, and nothing identifying (names, namespaces, UIDs, labels,
//! annotations, addresses) ever reaches the body.
//!
//! Built for `wasm32-unknown-unknown` and wrapped by `wasm-tools component
//! new`: it imports nothing but the contract's types.

wit_bindgen::generate!({ path: "../../wit/0.1.0", world: "telemetry-plugin" });

use exports::kamaji::telemetry::plugin::Guest;
use kamaji::telemetry::types::{
    Description, Event, FieldDoc, Installation, Payload, Redaction, RedactionAction, Route,
};

/// Input fields this plugin leaves out, for the redaction report.
const DROPPED: [&str; 7] = [
    "installation.cluster-uid",
    "tenant-control-plane.name",
    "tenant-control-plane.namespace",
    "tenant-control-plane.uid",
    "tenant-control-plane.labels",
    "tenant-control-plane.annotations",
    "tenant-control-plane.owner-references",
];

struct Example;

impl Guest for Example {
    fn describe() -> Description {
        Description {
            name: "example-rust".into(),
            version: "0.1.0".into(),
            wire_schema: "kamaji-telemetry-example/v1".into(),
            fields: vec![
                FieldDoc {
                    name: "event".into(),
                    route: Route::Create,
                    meaning: "The kind of event the body reports: always create, sent once for \
                              each TenantControlPlane created."
                        .into(),
                    example: r#""create""#.into(),
                },
                FieldDoc {
                    name: "tcp_minor".into(),
                    route: Route::Create,
                    meaning: "The Kubernetes version asked for by the created TCP \
                              (spec.kubernetes.version), cut to MAJOR.MINOR; null when absent \
                              or not a version."
                        .into(),
                    example: r#""1.30""#.into(),
                },
            ],
        }
    }

    fn handle(_installation: Installation, event: Event) -> Result<Option<Payload>, String> {
        let Event::Created(tcp) = event else {
            return Ok(None);
        };
        // Keys in a fixed order, no spaces: the same bytes as the JavaScript
        // and Python examples give. The value is digits and a dot, or null,
        // so it needs no JSON escaping.
        let minor = match tcp.desired_version.as_deref().and_then(minor_version) {
            Some(minor) => format!(r#""{minor}""#),
            None => "null".to_owned(),
        };
        let body = format!(r#"{{"event":"create","tcp_minor":{minor}}}"#);
        let mut redactions = vec![Redaction {
            field: "tenant-control-plane.desired-version".into(),
            action: RedactionAction::Normalised,
            reason: "Only its major and minor numbers are sent.".into(),
        }];
        redactions.extend(DROPPED.iter().map(|field| Redaction {
            field: (*field).into(),
            action: RedactionAction::Dropped,
            reason: "This plugin sends no other input field.".into(),
        }));
        Ok(Some(Payload {
            route: Route::Create,
            body,
            redactions,
        }))
    }
}

/// `v1.30.2`, `1.30`, `v1.30.2-eks-5e0fdde` give `1.30`; anything else, `None`.
fn minor_version(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix(['v', 'V']).unwrap_or(raw);
    let (major, rest) = raw.split_once('.')?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (minor, tail) = rest.split_at(end);
    let number = |digits: &str| -> Option<u32> {
        let valid = (1..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| digits.parse().ok()).flatten()
    };
    if !(tail.is_empty() || tail.starts_with(['.', '+', '-'])) {
        return None;
    }
    Some(format!("{}.{}", number(major)?, number(minor)?))
}

export!(Example);
