//! The built default plugin's shape: what it imports, what it exports, and
//! how big it is, as `wasm-tools` reads the component.
//!
//! A plugin that imported anything beyond the contract's types (above all
//! `wasi:*`) could do I/O of its own, and the sandbox's promise would rest on
//! the host's linker alone.

use kamaji_telemetry_e2e::{default_plugin, wasm_tools_cli};
use std::process::Command;

/// The size budget: small enough to embed, load and audit.
const MAX_BYTES: u64 = 150 * 1024;

/// The WIT `wasm-tools` reconstructs from the component.
fn component_wit() -> String {
    let output = Command::new(wasm_tools_cli())
        .args(["component", "wit"])
        .arg(default_plugin())
        .output()
        .expect("wasm-tools runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("WIT is UTF-8")
}

/// The names after `keyword` in the component's world, e.g. its imports.
fn world_items(keyword: &str) -> Vec<String> {
    let wit = component_wit();
    let world = wit
        .split_once("world root {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(world, _)| world.to_string())
        .expect("a root world");
    world
        .lines()
        .filter_map(|line| line.trim().strip_prefix(keyword))
        .map(|item| item.trim_end_matches(';').trim().to_string())
        .collect()
}

#[test]
fn imports_only_the_contract_types() {
    assert_eq!(world_items("import "), ["kamaji:telemetry/types@0.2.0"]);
    assert!(!component_wit().contains("wasi:"));
}

#[test]
fn exports_the_plugin_interface() {
    assert_eq!(world_items("export "), ["kamaji:telemetry/plugin@0.2.0"]);
}

#[test]
fn fits_the_size_budget() {
    let size = std::fs::metadata(default_plugin())
        .expect("the plugin exists")
        .len();
    assert!(
        size <= MAX_BYTES,
        "{size} bytes, over the {MAX_BYTES}-byte budget"
    );
}
