//! The sandbox contains misbehaving plugins: each failure stays in its call,
//! is reported clearly, and the host goes on. The hostile plugins are built
//! from `tests/plugins/hostile` by `make plugins`.

use std::time::{Duration, Instant};

use crate::common::{hostile, installation};
use kamaji_telemetry::plugin::{
    CallError, DEFAULT_PLUGIN, ImportStatus, LoadError, Plugin, PluginRuntime, PrecompiledCache,
    SandboxLimits,
};

fn created_event() -> kamaji_telemetry::model::Event {
    crate::common::created("v1.31.0")
}

fn limits() -> SandboxLimits {
    SandboxLimits {
        deadline: Duration::from_millis(200),
        memory_bytes: 32 << 20,
        output_bytes: 16 << 10,
    }
}

fn runtime() -> PluginRuntime {
    PluginRuntime::new(limits(), None).expect("engine")
}

fn assert_host_goes_on(runtime: &PluginRuntime) {
    let default = runtime
        .load(DEFAULT_PLUGIN)
        .expect("the default plugin loads");
    let payload = default
        .handle(&installation(), created_event())
        .expect("default plugin works");
    assert!(
        payload.is_some(),
        "the default plugin builds a create payload"
    );
}

fn load_hostile(runtime: &PluginRuntime, kind: &str) -> Plugin {
    runtime
        .load(&hostile(kind))
        .expect("hostile plugins honour the contract's types")
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let runtime = runtime();
    let plugin = load_hostile(&runtime, "spin");
    let started = Instant::now();
    let error = plugin.handle(&installation(), created_event()).unwrap_err();
    assert!(matches!(error, CallError::Timeout(_)), "got {error:?}");
    assert!(error.to_string().contains("deadline"), "{error}");
    // Generous: the deadline is 200 ms; the machine may be busy.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_host_goes_on(&runtime);
}

#[test]
fn unbounded_growth_hits_the_memory_cap() {
    let runtime = runtime();
    let plugin = load_hostile(&runtime, "grow");
    let error = plugin.handle(&installation(), created_event()).unwrap_err();
    assert!(
        matches!(error, CallError::MemoryCap { cap } if cap == 32 << 20),
        "got {error:?}"
    );
    assert_host_goes_on(&runtime);
}

#[test]
fn a_trap_fails_only_its_call() {
    let runtime = runtime();
    let plugin = load_hostile(&runtime, "trap");
    let error = plugin.handle(&installation(), created_event()).unwrap_err();
    assert!(matches!(error, CallError::Trap(_)), "got {error:?}");
    // The same plugin is called again in a fresh store: it traps afresh,
    // rather than failing to enter an instance that trapped.
    let again = plugin.handle(&installation(), created_event()).unwrap_err();
    assert!(matches!(again, CallError::Trap(_)), "got {again:?}");
    assert_host_goes_on(&runtime);
}

#[test]
fn output_over_the_cap_is_refused() {
    let runtime = PluginRuntime::new(
        SandboxLimits {
            output_bytes: 8,
            ..limits()
        },
        None,
    )
    .unwrap();
    // The host asks for the description at load: the default plugin's is
    // far over the cap.
    let refusal = runtime.load(DEFAULT_PLUGIN).err().expect("refused");
    assert!(
        matches!(
            refusal,
            LoadError::Describe(CallError::OutputTooLarge { cap: 8, .. })
        ),
        "got {refusal:?}"
    );
    // A plugin with an empty description loads, and its body is over the cap.
    let plugin = runtime.load(&hostile("leak")).unwrap();
    let error = plugin.handle(&installation(), created_event()).unwrap_err();
    assert!(
        matches!(error, CallError::OutputTooLarge { cap: 8, .. }),
        "got {error:?}"
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    let error = runtime().load(b"\0asm\x01\0\0\0").err().expect("refused");
    assert!(matches!(error, LoadError::CoreModule), "got {error:?}");
    assert!(
        error.to_string().contains("wasm-tools component new"),
        "{error}"
    );
}

#[test]
fn a_text_file_is_not_wasm() {
    let error = runtime().load(b"hello, world").err().expect("refused");
    assert!(matches!(error, LoadError::NotWasm), "got {error:?}");
}

#[test]
fn a_component_of_another_world_is_refused() {
    let other = r#"(component
        (core module $m (func (export "f")))
        (core instance $i (instantiate $m))
        (func (export "greet") (canon lift (core func $i "f"))))"#;
    let error = runtime().load(other.as_bytes()).err().expect("refused");
    assert!(
        matches!(error, LoadError::WrongWorld { .. }),
        "got {error:?}"
    );
    assert!(error.to_string().contains("greet"), "{error}");
}

#[test]
fn a_newer_contract_version_is_refused_by_name() {
    let newer = r#"(component
        (instance $plugin)
        (export "kamaji:telemetry/plugin@0.9.0" (instance $plugin)))"#;
    let error = runtime().load(newer.as_bytes()).err().expect("refused");
    assert!(
        matches!(&error, LoadError::IncompatibleContract { found } if found == "0.9.0"),
        "got {error:?}"
    );
    assert!(error.to_string().contains("0.1.0, 0.2.0"), "{error}");
}

#[test]
fn a_component_of_two_contract_versions_is_refused() {
    let both = r#"(component
        (instance $old)
        (instance $new)
        (export "kamaji:telemetry/plugin@0.1.0" (instance $old))
        (export "kamaji:telemetry/plugin@0.2.0" (instance $new)))"#;
    let error = runtime().load(both.as_bytes()).err().expect("refused");
    assert!(
        matches!(&error, LoadError::AmbiguousContract { found } if found == "0.1.0, 0.2.0"),
        "got {error:?}"
    );
}

#[test]
fn a_component_that_names_a_version_but_lacks_its_functions_is_refused() {
    let hollow = r#"(component
        (instance $plugin)
        (export "kamaji:telemetry/plugin@0.2.0" (instance $plugin)))"#;
    let error = runtime().load(hollow.as_bytes()).err().expect("refused");
    assert!(
        matches!(&error, LoadError::Mismatch { version, .. } if version.as_str() == "0.2.0"),
        "got {error:?}"
    );
}

#[test]
fn the_cache_serves_the_second_load() {
    let dir = tempfile::tempdir().unwrap();
    let cache = PrecompiledCache::new(dir.path());
    let runtime = PluginRuntime::new(limits(), Some(cache.clone())).unwrap();
    runtime.load(DEFAULT_PLUGIN).unwrap();
    assert_eq!(cache.hits(), 0, "the first load compiles");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "one precompiled entry");
    let second = runtime.load(DEFAULT_PLUGIN).unwrap();
    assert_eq!(cache.hits(), 1, "the second load did not compile");
    assert!(
        second
            .handle(&installation(), created_event())
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_corrupt_cache_entry_costs_only_a_compilation() {
    let dir = tempfile::tempdir().unwrap();
    let cache = PrecompiledCache::new(dir.path());
    let runtime = PluginRuntime::new(limits(), Some(cache.clone())).unwrap();
    runtime.load(DEFAULT_PLUGIN).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not a precompiled component").unwrap();
    }
    let plugin = runtime.load(DEFAULT_PLUGIN).expect("recompiled");
    assert_eq!(cache.hits(), 0, "a corrupt entry is no hit");
    assert!(
        plugin
            .handle(&installation(), created_event())
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_wasi_plugin_sees_a_closed_world_no_environment_no_files_no_network() {
    let runtime = runtime();
    let plugin = load_hostile(&runtime, "wasi");
    let environment = plugin
        .imports()
        .iter()
        .find(|import| import.starts_with("wasi:cli/environment@"))
        .expect("std imports the environment");
    assert_eq!(ImportStatus::of(environment), ImportStatus::Stubbed);
    assert!(
        plugin.denied_imports().is_empty(),
        "{:?}",
        plugin.denied_imports()
    );
    // handle looks around and reports what it found, as a refusal.
    let error = plugin.handle(&installation(), created_event()).unwrap_err();
    let CallError::Refused(found) = &error else {
        panic!("got {error:?}");
    };
    let found = found.message();
    assert!(found.contains("environment: [];"), "{found}");
    assert!(found.contains("/etc/hostname: refused"), "{found}");
    assert!(found.contains("tcp: refused"), "{found}");
    assert_host_goes_on(&runtime);
}
