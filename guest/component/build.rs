//! Builds the default plugin (`guest/`) for `wasm32-unknown-unknown` with the
//! `plugin` profile, and wraps its core module into a component, as
//! `wasm-tools component new` does. Cargo runs this before anything that
//! embeds the plugin, so a fresh clone needs no `make` step first.
//!
//! The inner cargo uses a target directory of its own under `OUT_DIR`: the
//! outer one holds the lock on `target/`.

use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST: &str = "kamaji-telemetry-plugin";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.join("../..");
    for input in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    let out_dir = PathBuf::from(env("OUT_DIR"));
    ensure_wasm_target();
    let module = build_core_module(&workspace, &out_dir.join("target"));
    let component = out_dir.join("kamaji-telemetry-plugin.wasm");
    wrap(&module, &component);
    println!(
        "cargo:rustc-env=KAMAJI_TELEMETRY_PLUGIN_COMPONENT={}",
        component.display()
    );
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// Adds the `wasm32-unknown-unknown` target with rustup when the toolchain
/// lacks it, as a newcomer would have to: `cargo check` on a fresh clone
/// then just works. Without rustup, the build below says what is missing.
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed = sysroot.is_some_and(|root| root.join("lib/rustlib").join(WASM_TARGET).is_dir());
    if installed {
        return;
    }
    println!("cargo:warning=adding the {WASM_TARGET} target: rustup target add {WASM_TARGET}");
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status();
    if !added.is_ok_and(|status| status.success()) {
        println!("cargo:warning=could not add the {WASM_TARGET} target with rustup");
    }
}

/// `cargo build -p kamaji-telemetry-plugin --target wasm32-unknown-unknown --profile plugin`.
fn build_core_module(workspace: &Path, target_dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "-p", GUEST, "--target", WASM_TARGET])
        .args(["--profile", "plugin", "--target-dir"])
        .arg(target_dir)
        // The host's flags (coverage, sanitizers, a linker) are not the
        // plugin's, and neither is a build target the outer cargo was given.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo to build the plugin: {error}"));
    if !status.success() {
        // A build script can only fail by panicking; the message is what the user sees.
        panic!(
            "building the default plugin failed ({status}). If the errors above say the \
             {WASM_TARGET} target is missing: `rustup target add {WASM_TARGET}`"
        );
    }
    target_dir.join(format!("{WASM_TARGET}/plugin/kamaji_telemetry_plugin.wasm"))
}

/// The core module, with the WIT that wit-bindgen embedded in it, as a component.
fn wrap(module: &Path, component: &Path) {
    let bytes = std::fs::read(module)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", module.display()));
    let encoded = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|error| panic!("cannot make a component of the plugin: {error:#}"));
    std::fs::write(component, encoded)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", component.display()));
}
