//! kamaji-telemetry-core for the browser preview page (`web/`).
//!
//! The page runs two components through jco: the plugin, transpiled from the
//! very file the host embeds, and this one, which is the host's own I/O-free
//! core. So the Kubernetes decoding, what a plugin is shown of its input, the
//! leak guard and the JSON line of a payload are the same Rust code as the
//! CLI's; the page's JavaScript only carries values between the two.
//!
//! Values cross as JSON text in the shapes jco gives the contract's types
//! (camelCase fields, `{tag, val}` variants, `null` for `none`): the
//! conversions here mirror the host's per-version adapters
//! (`host/src/plugin/contract/v0_1_0.rs`, `v0_2_0.rs`) field for field.

mod convert;

use std::cell::RefCell;

use kamaji_telemetry_core::kube::{self, DecodeError, DecodedDocument};
use kamaji_telemetry_core::leak_guard::{self, DeclaredWords};
use kamaji_telemetry_core::model::{Description, Event, InputFields, Installation, Payload};
use kamaji_telemetry_core::payload_line::payload_line;
use kamaji_telemetry_core::withhold::Shown;
use serde_json::{Value, json};

pub use convert::Contract;

/// The most events handed to a plugin in one call, as the host's pipeline
/// (`pipeline::MAX_BATCH`).
pub const MAX_BATCH: usize = 256;

/// One plugin, one installation, and the batches handed to the plugin so far.
pub struct Session {
    contract: Contract,
    description: Description,
    declared: DeclaredWords,
    installation: Installation,
    /// What the plugin was shown in each batch: the leak guard checks the
    /// bodies against it, as the host's pipeline does.
    batches: RefCell<Vec<Batch>>,
}

/// A batch as the plugin was shown it, and the documents its events came from.
struct Batch {
    installation: Installation,
    events: Vec<Event>,
    documents: Vec<usize>,
}

impl Session {
    /// `description` is the plugin's `describe()` answer and `installation`
    /// the installation, both as jco shapes them, in JSON.
    pub fn open(contract: &str, description: &str, installation: &str) -> Result<Self, String> {
        let contract = Contract::parse(contract)?;
        let description: Value = serde_json::from_str(description)
            .map_err(|error| format!("the plugin's description is not JSON: {error}"))?;
        let description = convert::lift_description(contract, &description)?;
        let installation: Value = serde_json::from_str(installation)
            .map_err(|error| format!("the installation is not JSON: {error}"))?;
        let installation = convert::lift_installation(&installation)?;
        Ok(Self {
            contract,
            declared: DeclaredWords::of(&description),
            description,
            installation,
            batches: RefCell::new(Vec::new()),
        })
    }

    /// The description as the page shows it.
    pub fn description(&self) -> Value {
        let description = &self.description;
        let declares = self.contract.declares();
        json!({
            "name": description.name,
            "version": description.version,
            "wireSchema": description.wire_schema,
            "contract": self.contract.as_str(),
            "declares": declares,
            "inputs": InputFields::GROUPS.iter().map(|(group, name, covers)| json!({
                "name": name,
                "covers": covers,
                "read": description.reads.contains(*group),
            })).collect::<Vec<_>>(),
            "routes": description.routes.as_ref().map(|routes| {
                routes.iter().map(|route| route.as_str()).collect::<Vec<_>>()
            }),
            "fields": description.fields.iter().map(|field| json!({
                "name": field.name,
                "route": field.route.as_str(),
                "example": field.example,
                "meaning": field.meaning,
            })).collect::<Vec<_>>(),
        })
    }

    /// Decodes a stream into steps, in input order: `batch` (events for the
    /// plugin, as it is to be shown them), `error` (a bad document, worded
    /// as the CLI words it) and `skip` (a document with nothing to report).
    /// Like the CLI, a bad document ends the batch before it, so events are
    /// reported in input order; a stream with no document at all is an error.
    pub fn decode(&self, input: &[u8]) -> Value {
        let mut steps = Vec::new();
        let mut pending: Vec<DecodedDocument> = Vec::new();
        let mut count = 0;
        for document in kube::decode_stream(input) {
            count += 1;
            match document {
                Ok(decoded) => {
                    pending.push(decoded);
                    if pending.len() == MAX_BATCH {
                        steps.push(self.batch(std::mem::take(&mut pending)));
                    }
                }
                Err(error) if error.is_skip() => steps.push(problem("skip", &error)),
                Err(error) => {
                    if !pending.is_empty() {
                        steps.push(self.batch(std::mem::take(&mut pending)));
                    }
                    steps.push(problem("error", &error));
                }
            }
        }
        if !pending.is_empty() {
            steps.push(self.batch(pending));
        }
        if count == 0 {
            steps.push(json!({
                "step": "error",
                "document": null,
                "message": "no Kubernetes document in it",
            }));
        }
        Value::Array(steps)
    }

    /// Shows the plugin a batch: only what it declared it reads.
    fn batch(&self, documents: Vec<DecodedDocument>) -> Value {
        let numbers: Vec<usize> = documents.iter().map(|document| document.document).collect();
        let events: Vec<Event> = documents
            .into_iter()
            .map(|document| document.event)
            .collect();
        let Shown {
            installation,
            events,
        } = Shown::to(self.description.reads, self.installation.clone(), events);
        let mut batches = self.batches.borrow_mut();
        let value = json!({
            "step": "batch",
            "batch": batches.len(),
            "documents": numbers,
            "kinds": events.iter().map(Event::kind).collect::<Vec<_>>(),
            "installation": convert::lower_installation(&installation),
            "events": events
                .iter()
                .map(|event| convert::lower_event(self.contract, event))
                .collect::<Vec<_>>(),
        });
        batches.push(Batch {
            installation,
            events,
            documents: numbers,
        });
        value
    }

    /// The outcome of each answer of batch `batch`, after the leak guard.
    pub fn guard(&self, batch: u32, answers: &str) -> Result<Value, String> {
        let batches = self.batches.borrow();
        let Batch {
            installation,
            events,
            documents: numbers,
        } = usize::try_from(batch)
            .ok()
            .and_then(|batch| batches.get(batch))
            .ok_or_else(|| format!("no batch {batch}"))?;
        let answers: Value = serde_json::from_str(answers)
            .map_err(|error| format!("the answers are not JSON: {error}"))?;
        let answers = answers.as_array().ok_or("the answers are not a list")?;
        if answers.len() != events.len() {
            let failure = format!(
                "the plugin gave {} answers to a batch of {} events",
                answers.len(),
                events.len()
            );
            return Ok(Value::Array(
                numbers
                    .iter()
                    .map(|document| json!({"outcome": "failed", "document": document, "message": failure}))
                    .collect(),
            ));
        }
        let outcomes = answers
            .iter()
            .zip(numbers)
            .zip(events)
            .map(|((answer, document), event)| {
                let mut outcome = match convert::lift_answer(answer) {
                    Err(message) => json!({"outcome": "failed", "message": message}),
                    Ok(None) => json!({"outcome": "nothing"}),
                    Ok(Some(payload)) => self.check(&payload, installation, events),
                };
                outcome["document"] = json!(document);
                outcome["event"] = json!(event.kind());
                outcome
            })
            .collect();
        Ok(Value::Array(outcomes))
    }

    /// A payload through the leak guard, against what the plugin was shown
    /// of every event of its batch.
    fn check(&self, payload: &Payload, installation: &Installation, events: &[Event]) -> Value {
        if let Some(leak) =
            leak_guard::find_leak(&self.declared, events, installation, &payload.body)
        {
            return json!({
                "outcome": "blocked",
                "route": payload.route.as_str(),
                "message": format!("the payload carries {leak}; it is not sent"),
            });
        }
        match payload_line(payload, None) {
            Ok(line) => json!({
                "outcome": "ready",
                "route": payload.route.as_str(),
                "body": payload.body,
                "redactions": payload.redactions.iter().map(|redaction| json!({
                    "field": redaction.field,
                    "action": redaction.action.as_str(),
                    "reason": redaction.reason,
                })).collect::<Vec<_>>(),
                "line": line,
            }),
            Err(error) => {
                json!({"outcome": "failed", "message": format!("cannot print the payload: {error}")})
            }
        }
    }
}

fn problem(step: &str, error: &DecodeError) -> Value {
    json!({
        "step": step,
        "document": error.document,
        "line": error.position.line,
        "column": error.position.column,
        "message": error.to_string(),
    })
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "wit",
        world: "preview-core",
    });

    use exports::kamaji::preview::core::{Guest, GuestSession, Session};

    struct Component;

    impl Guest for Component {
        type Session = super::Session;
    }

    impl GuestSession for super::Session {
        fn open(
            contract: String,
            description: String,
            installation: String,
        ) -> Result<Session, String> {
            super::Session::open(&contract, &description, &installation).map(Session::new)
        }

        fn description(&self) -> String {
            super::Session::description(self).to_string()
        }

        fn decode(&self, input: Vec<u8>) -> String {
            super::Session::decode(self, &input).to_string()
        }

        fn guard(&self, batch: u32, answers: String) -> String {
            match super::Session::guard(self, batch, &answers) {
                Ok(outcomes) => outcomes.to_string(),
                Err(message) => serde_json::json!({ "error": message }).to_string(),
            }
        }
    }

    export!(Component);
}

#[cfg(test)]
mod tests;
