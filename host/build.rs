//! Embeds the default plugin, built from `guest/` by `make plugin`, in the binary.

use std::path::PathBuf;

const PLUGIN_ENV: &str = "KAMAJI_TELEMETRY_PLUGIN_WASM";

fn main() {
    let plugin = std::env::var_os(PLUGIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(default_plugin_path);
    println!("cargo:rerun-if-env-changed={PLUGIN_ENV}");
    println!("cargo:rerun-if-changed={}", plugin.display());
    if !plugin.is_file() {
        // A build script can only fail by panicking; the message is what the user sees.
        panic!(
            "the default plugin {} is not built: run `make plugin` (or set {PLUGIN_ENV})",
            plugin.display()
        );
    }
    println!(
        "cargo:rustc-env=KAMAJI_TELEMETRY_DEFAULT_PLUGIN={}",
        plugin.display()
    );
}

fn default_plugin_path() -> PathBuf {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    manifest_dir.join("../target/components/kamaji-telemetry-plugin.wasm")
}
