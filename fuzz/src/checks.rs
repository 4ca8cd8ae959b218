//! The checks behind the fuzz targets. Each panics, with what it found, when
//! a property does not hold.

use std::sync::OnceLock;

use kamaji_telemetry::kube::{self, DecodeErrorKind, LimitExceeded};
use kamaji_telemetry::model::{self as contract, Event};
use kamaji_telemetry::pipeline;
use kamaji_telemetry::plugin::{
    CallError, DEFAULT_PLUGIN, Outcome, Plugin, PluginRuntime, SandboxLimits,
};
use kamaji_telemetry::withhold::Shown;
use kamaji_telemetry_plugin::native;
use kamaji_telemetry_plugin::versions::{KamajiVersion, KubernetesVersion, UNKNOWN};

use crate::contract::host;
use crate::kube_json::kube_json;
use crate::model::Case;
use crate::oracle::{CaseStrings, copied_input, unexpected_body_string};
use kamaji_telemetry::leak_guard::{BatchInputs, DeclaredWords, Leak, find_leak};

/// Arbitrary bytes as a Kubernetes stream and as a webhook body: no panic,
/// the stream makes progress, and every error points inside the input.
pub fn kube_decode(bytes: &[u8]) {
    let lines = bytes.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let mut documents = 0;
    for result in kube::decode_stream(bytes) {
        documents += 1;
        // Each document starts at a byte that no earlier one consumed.
        assert!(
            documents <= bytes.len(),
            "{documents} documents in {} bytes",
            bytes.len()
        );
        if let Err(error) = result {
            assert!(error.position.line <= lines, "{error} is past line {lines}");
            let _ = error.to_string();
        }
    }
    if let Err(error) = kube::decode_admission_review(bytes) {
        assert!(error.position.line <= lines, "{error} is past line {lines}");
    }
}

/// Arbitrary text through both version normalisers: what is sent is a fixed
/// point, made of the input's own numbers, in one of the documented shapes.
pub fn versions(bytes: &[u8]) {
    let raw = String::from_utf8_lossy(bytes);
    let kubernetes = KubernetesVersion::parse(&raw);
    let sent = kubernetes.to_string();
    assert_eq!(
        KubernetesVersion::parse(&sent),
        kubernetes,
        "{raw:?} -> {sent:?}"
    );
    if sent != UNKNOWN {
        // The release is the input's leading numbers, up to a suffix.
        let release = sent.strip_prefix('v').expect("a release starts with v");
        let unprefixed = raw.strip_prefix('v').unwrap_or(&raw);
        let rest = unprefixed.strip_prefix(release);
        assert!(
            rest.is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '+'])),
            "{raw:?} -> {sent:?}"
        );
    }
    let kamaji = KamajiVersion::parse(&raw);
    let sent = kamaji.to_string();
    assert_eq!(KamajiVersion::parse(&sent), kamaji, "{raw:?} -> {sent:?}");
    // A Kamaji version is sent exactly as it is, or not at all.
    assert!(sent == raw || sent == UNKNOWN, "{raw:?} -> {sent:?}");
}

/// An installation and an event, as the Kubernetes JSON the host decodes,
/// through the decoder, the default plugin and the leak guard:
///
/// - the decoder gives back exactly the event the JSON was made from;
/// - the component (through wasmtime, as the host runs it) and the plugin's
///   native Rust agree on the outcome, byte for byte;
/// - the leak guard blocks the default plugin's body exactly when the naive
///   reading of its rule ([`copied_input`]) finds an input string in it: a
///   name that is also a version the body carries, say;
/// - every string of the body is in the plugin's closed grammar (see
///   [`unexpected_body_string`]).
pub fn pipeline(case: &Case) {
    let Some(event) = decoded_event(case) else {
        return;
    };
    let installation = host::installation(&case.installation);
    // The native call is shown what the component is shown.
    let reads = component().description().reads;
    let shown = Shown::to(reads, installation.clone(), vec![event.clone()]);
    let native = native::handle(&shown.installation, &shown.events[0]);
    let outcome = pipeline::run(component(), &installation, event.clone());
    match (native, outcome) {
        (Ok(None), Outcome::Nothing) => {}
        (Err(native), Outcome::Failed(CallError::Refused(component))) => {
            assert_eq!(
                native_error(&native),
                (component.kind(), component.message()),
                "the component and the native plugin disagree"
            )
        }
        (Ok(Some(native)), Outcome::Ready(payload)) => {
            assert_same_payload(&native, &payload);
            assert_grammar(&payload.body, &installation.cluster_uid);
            // Only what the plugin was shown can have been copied.
            let shown = CaseStrings::of_input(&shown.installation, &shown.events[0]);
            if let Some(copied) = copied_input(&payload.body, &shown) {
                panic!("the leak guard let {copied:?} through: {}", payload.body);
            }
        }
        (Ok(Some(native)), Outcome::Blocked(leak)) => {
            assert_grammar(&native.body, &installation.cluster_uid);
            assert!(
                copied_input(
                    &native.body,
                    &CaseStrings::of_input(&shown.installation, &shown.events[0])
                )
                .is_some(),
                "the leak guard blocked a body that carries no input ({leak}): {}",
                native.body
            );
        }
        (native, outcome) => {
            panic!("the native plugin gave {native:?}, the component {outcome:?}")
        }
    }
}

/// The plugin's own error as the host's metrics and logs name it.
fn native_error(error: &kamaji_telemetry_plugin::PluginError) -> (&'static str, &str) {
    use kamaji_telemetry_plugin::PluginError;
    match error {
        PluginError::MalformedInput(message) => ("malformed_input", message),
        PluginError::UnsupportedEvent(message) => ("unsupported_event", message),
        PluginError::Internal(message) => ("internal", message),
    }
}

fn assert_grammar(body: &str, cluster_uid: &str) {
    if let Some(string) = unexpected_body_string(body, cluster_uid) {
        panic!("{string:?} is not in the plugin's grammar: {body}");
    }
}

/// The leak guard against its naive reading on one body: they agree on
/// whether the body carries an input string of the case.
pub fn leak_guard(case: &Case, body: &str) {
    let event = host::event(&case.event);
    let installation = host::installation(&case.installation);
    let leak = find_leak(
        component().declared_words(),
        std::slice::from_ref(&event),
        &installation,
        body,
    );
    // The gathered form the pipeline uses for batches finds the same.
    let events = std::slice::from_ref(&event);
    let gathered =
        BatchInputs::of(events, &installation).find_leak(component().declared_words(), body);
    assert_eq!(leak, gathered, "the gathered search disagrees");
    let copied = copied_input(body, &CaseStrings::of(case));
    match (&leak, &copied) {
        (Some(Leak::Value { .. }), Some(_)) | (None, None) => {}
        (Some(Leak::NotJson { .. }), _) => {
            assert!(
                serde_json::from_str::<serde_json::Value>(body).is_err(),
                "{body}"
            )
        }
        _ => panic!("the guard says {leak:?}, its naive reading {copied:?}: {body}"),
    }
}

/// The case's event, as the decoder reads it from the case's JSON; it must be
/// the event the case stands for. `None` when a string of the case is longer
/// than the decoder reads (its limit is tested on its own).
fn decoded_event(case: &Case) -> Option<Event> {
    let json = serde_json::to_vec(&kube_json(&case.event)).expect("JSON of plain values");
    let mut documents = kube::decode_stream(&json);
    let decoded = match documents.next() {
        Some(Ok(document)) => document,
        Some(Err(error))
            if matches!(
                error.cause,
                DecodeErrorKind::Limit(LimitExceeded::StringLength { .. })
            ) =>
        {
            return None;
        }
        other => panic!("the decoder failed on a valid document: {other:?}"),
    };
    assert!(documents.next().is_none(), "one document gave two");
    let expected = host::event(&case.event);
    assert_eq!(
        format!("{:?}", decoded.event),
        format!("{expected:?}"),
        "the decoder changed the event"
    );
    assert_eq!(decoded.skipped_items, 0);
    Some(decoded.event)
}

/// The words the default plugin declares, as the host loaded it.
pub fn default_plugin_words() -> &'static DeclaredWords {
    component().declared_words()
}

/// The default plugin, compiled once per process.
pub(crate) fn component() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("an engine");
        runtime
            .load(DEFAULT_PLUGIN)
            .expect("the default plugin loads")
    })
}

fn assert_same_payload(native: &kamaji_telemetry_plugin::Payload, component: &contract::Payload) {
    assert_eq!(native.body, component.body, "the bodies differ");
    assert_eq!(
        route(native.route),
        component.route.as_str(),
        "the routes differ"
    );
    let native_report: Vec<_> = native
        .redactions
        .iter()
        .map(|r| (r.field.as_str(), action(r.action), r.reason.as_str()))
        .collect();
    let component_report: Vec<_> = component
        .redactions
        .iter()
        .map(|r| (r.field.as_str(), r.action.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        native_report, component_report,
        "the redaction reports differ"
    );
}

fn route(route: kamaji_telemetry_plugin::Route) -> &'static str {
    use kamaji_telemetry_plugin::Route;
    match route {
        Route::Stats => "stats",
        Route::Create => "create",
        Route::Update => "update",
        Route::Delete => "delete",
    }
}

fn action(action: kamaji_telemetry_plugin::RedactionAction) -> &'static str {
    use kamaji_telemetry_plugin::RedactionAction;
    match action {
        RedactionAction::Dropped => "dropped",
        RedactionAction::Normalised => "normalised",
        RedactionAction::Pseudonymised => "pseudonymised",
    }
}
