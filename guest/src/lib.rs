//! The default kamaji-telemetry plugin: Kamaji's wire format v1, redacted.
//!
//! The host hands over raw events (names, UIDs, labels, provider version
//! strings); this crate turns each one into at most one payload whose body is
//! what Kamaji's telemetry backend accepts unchanged, and whose redaction
//! report says what was left out and why.
//!
//! Privacy holds by construction rather than by filtering: the wire structs
//! (module `wire`) hold only numbers, booleans, closed enums, re-rendered
//! versions and a pseudonym, so no input string can reach a body at all.
//!
//! The decisions a host can observe:
//! - `uuid` (heartbeat only) is `uuid5(59d6df90-757b-5e91-a80f-50c72fe2dc0e,
//!   lowercase cluster UID)`; a cluster UID that is not a UUID, or is nil, is
//!   a `malformed-input` error on the heartbeat, while events do not need it.
//! - Kubernetes versions are sent as `vMAJOR.MINOR.PATCH` (suffix after the
//!   first `-` or `+` removed, a missing `v` added, parts of at most four
//!   digits), otherwise `Unknown`; Kamaji versions only as `vX.Y.Z`,
//!   `edge-YY.M.N` or `dev`, otherwise `Unknown`.
//! - An update is sent only when the normalised desired version changes.
//! - The report lists each *present* input field not sent verbatim, by its
//!   WIT path, with a fixed one-sentence reason and never the value.
//! - It declares that it reads only the cluster UID, versions, statuses,
//!   exposure, owner kinds and drivers (contract 0.2.0): the host never hands
//!   it a name, label, annotation, address or UID of a TCP.
//!
//! All logic is plain Rust that builds and tests natively; the component glue
//! (module `component`) is compiled for `wasm32` only. The host can call
//! [`handle`] and [`describe`] directly, for example from a benchmark, and the
//! fuzz targets call the version normalisers of [`versions`] on their own.

mod bindings {
    //! The types of `kamaji:telemetry@0.2.0`, generated from the frozen WIT.
    //! They are the data model on every target, so there is no twin of them.
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "telemetry-plugin",
        additional_derives: [PartialEq, Eq],
        default_bindings_module: "crate::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
mod component;
mod describe;
mod fleet;
mod installation_id;
#[cfg(feature = "native")]
pub mod native;
mod profile;
mod redaction;
mod routes;
mod status;
#[cfg(test)]
mod tests;
pub mod versions;
mod wire;

pub use bindings::kamaji::telemetry::types::{
    DataStore, Description, Event, FieldDoc, Fleet, GatewayExposure, IngressExposure, InputFields,
    Installation, KeyValue, OwnerReference, Payload, PluginError, Redaction, RedactionAction,
    Route, TcpUpdate, TenantControlPlane,
};
pub use describe::describe;

/// Turns one event into zero or one payload.
///
/// `Ok(None)` means the event is not telemetry (an update that does not change
/// the Kubernetes version asked for). An `Err` is a message for the operator
/// about a malformed input; it never quotes an input value, since operators'
/// logs are shipped around too.
pub fn handle(installation: &Installation, event: &Event) -> Result<Option<Payload>, PluginError> {
    routes::build(installation, event)
}

/// Turns each event into zero or one payload, independently and in order.
pub fn handle_batch(
    installation: &Installation,
    events: &[Event],
) -> Vec<Result<Option<Payload>, PluginError>> {
    events
        .iter()
        .map(|event| handle(installation, event))
        .collect()
}
