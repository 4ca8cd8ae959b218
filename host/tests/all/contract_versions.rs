//! Old plugins keep loading: the default plugin as it was built for contract
//! 0.1.0 (a frozen build, `tests/fixtures/plugins`) and today's default, built
//! for 0.2.0, in one process, give the same bodies for every input.

use std::path::{Path, PathBuf};

use crate::common::{created, installation};
use kamaji_telemetry::kube;
use kamaji_telemetry::model::{Event, InputFields, Payload};
use kamaji_telemetry::pipeline;
use kamaji_telemetry::plugin::{
    ContractVersion, DEFAULT_PLUGIN, Outcome, Plugin, PluginRuntime, SandboxLimits,
};
use sha2::{Digest, Sha256};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugins() -> (Plugin, Plugin) {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("an engine");
    let old_build = std::fs::read(
        repository().join("tests/fixtures/plugins/kamaji-telemetry-plugin-0.1.0.wasm"),
    )
    .expect("the frozen 0.1.0 build");
    let old = runtime.load(&old_build).expect("the 0.1.0 build loads");
    let new = runtime.load(DEFAULT_PLUGIN).expect("the default loads");
    (old, new)
}

/// Every event of every sample and Kamaji manifest in the repository.
fn sample_events() -> Vec<(String, Event)> {
    let directories = [
        "samples",
        "tests/fixtures/kamaji/samples",
        "tests/fixtures/kamaji",
    ];
    let mut events = Vec::new();
    for directory in directories {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join(directory))
            .expect("a fixture folder")
            .map(|entry| entry.expect("an entry").path())
            .filter(|path| has_extension(path, &["json", "yaml"]))
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).expect("a readable fixture");
            for document in kube::decode_stream(&bytes).flatten() {
                events.push((format!("{}", file.display()), document.event));
            }
        }
    }
    events
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extensions.contains(&extension))
}

fn body(outcome: Outcome) -> Option<(String, String)> {
    match outcome {
        Outcome::Ready(Payload { route, body, .. }) => Some((route.as_str().to_owned(), body)),
        Outcome::Nothing => None,
        other => panic!("not a payload or nothing: {other:?}"),
    }
}

#[test]
fn the_frozen_contract_is_byte_for_byte_what_was_released() {
    let wit = std::fs::read(repository().join("wit/0.1.0/telemetry.wit")).expect("wit/0.1.0");
    assert_eq!(
        hex(&Sha256::digest(&wit)),
        "4e88540c7acc865501e9b74220748893f9e50f46e22db0d4e46f5922cc9f4424",
        "wit/0.1.0 is frozen: a change of the contract is a new version in a new folder"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn each_build_is_read_as_the_version_it_implements() {
    let (old, new) = plugins();
    assert_eq!(old.contract(), ContractVersion::V0_1_0);
    assert_eq!(new.contract(), ContractVersion::V0_2_0);
    assert_eq!(old.description().reads, InputFields::all());
    assert_eq!(old.description().routes, None);
    assert!(!new.description().reads.contains(InputFields::IDENTITY));
    assert_eq!(new.description().routes.as_ref().map(Vec::len), Some(4));
    assert_eq!(old.description().fields, new.description().fields);
}

#[test]
fn both_builds_give_the_same_bodies_for_every_sample() {
    let (old, new) = plugins();
    let events = sample_events();
    assert!(events.len() >= 20, "only {} sample events", events.len());
    let mut payloads = 0;
    for (file, event) in &events {
        let old_body = body(pipeline::run(&old, &installation(), event.clone()));
        let new_body = body(pipeline::run(&new, &installation(), event.clone()));
        assert_eq!(old_body, new_body, "{file}");
        payloads += usize::from(new_body.is_some());
    }
    assert!(payloads >= 20, "only {payloads} payloads");
}

#[test]
fn a_batch_gives_the_same_bodies_as_one_event_a_call() {
    let (old, new) = plugins();
    let mut events: Vec<Event> = sample_events()
        .into_iter()
        .map(|(_, event)| event)
        .collect();
    events.extend(["v1.30.2", "v1.31.0-eks-1", "garbage"].map(created));
    for plugin in [&old, &new] {
        let batched = pipeline::run_batch(plugin, &installation(), events.clone());
        for (event, outcome) in events.iter().zip(batched) {
            let alone = pipeline::run(plugin, &installation(), event.clone());
            assert_eq!(body(outcome), body(alone), "{:?}", plugin.contract());
        }
    }
}

#[test]
fn the_new_build_is_never_shown_an_identifying_string() {
    // A TCP whose every identifying field is set: the 0.2.0 build reads none
    // of them, so its redaction report names none of them either.
    let (old, new) = plugins();
    let event = sample_events()
        .into_iter()
        .map(|(_, event)| event)
        .find(|event| matches!(event, Event::Created(tcp) if !tcp.labels.is_empty()))
        .unwrap_or_else(|| created("v1.30.2"));
    let report = |plugin: &Plugin| match pipeline::run(plugin, &installation(), event.clone()) {
        Outcome::Ready(payload) => payload
            .redactions
            .into_iter()
            .map(|redaction| redaction.field)
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(report(&old).contains(&"tenant-control-plane.name".to_owned()));
    assert!(!report(&new).contains(&"tenant-control-plane.name".to_owned()));
}

#[test]
fn an_old_plugin_is_shown_everything_and_a_copy_is_still_blocked() {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("an engine");
    let leaky = runtime
        .load(&crate::common::hostile("leak"))
        .expect("it loads");
    assert_eq!(leaky.contract(), ContractVersion::V0_1_0);
    let events = vec![created("v1.30.2"), created("v1.31.0")];
    for outcome in pipeline::run_batch(&leaky, &installation(), events) {
        assert!(matches!(outcome, Outcome::Blocked(_)), "{outcome:?}");
    }
}
