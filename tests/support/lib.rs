//! Shared helpers for the end-to-end tests: where the built artefacts are.
//!
//! `make test` builds the hostile and example plugins and installs the tools
//! under `.tools/` before it runs these tests; each path can be overridden
//! with an environment variable. The host binary is the one cargo built for
//! the test binary (`CARGO_BIN_EXE_kamaji-telemetry`), and the default plugin
//! the one cargo built for the host to embed: neither can be stale.

use std::path::{Path, PathBuf};

pub mod agent;
pub mod host;
pub mod kube_api;
pub mod memory;
pub mod receiver;
pub mod registry;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}

fn artefact(env_var: &str, relative: &str) -> PathBuf {
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(relative));
    assert!(
        path.exists(),
        "{} not found: run `make test`, which builds it (or set {env_var})",
        path.display()
    );
    path
}

/// The default plugin component, as cargo built it for the host to embed.
pub fn default_plugin() -> PathBuf {
    PathBuf::from(kamaji_telemetry_plugin_component::PATH)
}

/// `plugin` with a custom section appended: the same behaviour, another
/// digest, so that a watcher sees a new plugin. `tag` tells variants apart.
pub fn plugin_variant(plugin: &[u8], tag: u8) -> Vec<u8> {
    let name = b"swap-test";
    let mut bytes = plugin.to_vec();
    bytes.extend_from_slice(&[0, (1 + name.len() + 1) as u8, name.len() as u8]);
    bytes.extend_from_slice(name);
    bytes.push(tag);
    bytes
}

/// One of the deliberately misbehaving plugins, built by `make plugins`.
pub fn hostile_plugin(kind: &str) -> PathBuf {
    artefact(
        "KAMAJI_TELEMETRY_HOSTILE_DIR",
        &format!("target/components/hostile-{kind}.wasm"),
    )
}

/// One of the example plugins of PLUGINS.md (`rust`, `js` or `python`), built
/// by `make examples` (which `make test` runs first).
pub fn example_plugin(language: &str) -> PathBuf {
    let path = workspace_root().join(format!("target/components/example-{language}.wasm"));
    assert!(
        path.exists(),
        "{} not found: run `make examples` (or `make test`), which builds it",
        path.display()
    );
    path
}

/// The official wasmtime CLI, installed by `make setup`.
pub fn wasmtime_cli() -> PathBuf {
    artefact("WASMTIME", ".tools/bin/wasmtime")
}

/// The wasm-tools CLI, installed by `make setup`.
pub fn wasm_tools_cli() -> PathBuf {
    artefact("WASM_TOOLS", ".tools/bin/wasm-tools")
}

/// helm-python-sdk (Helm's own engine) and PyYAML, installed by `make setup`:
/// the directory to put on PYTHONPATH for `tests/support/helm.py`.
pub fn helm_python() -> PathBuf {
    artefact("HELM_PYTHON", ".tools/helm-python")
}

/// Checks every document of the YAML stream at `path` against the
/// Kubernetes schemas of `version` (the package's newest when `None`) with
/// `kubernetes-validate --strict`: its report when one fails.
pub fn validate_kubernetes(path: &Path, version: Option<&str>) -> Result<(), String> {
    let mut command = std::process::Command::new("python3");
    command.args(["-m", "kubernetes_validate", "--strict", "--quiet"]);
    if let Some(version) = version {
        command.args(["--kubernetes-version", version]);
    }
    let output = command
        .arg(path)
        .env("PYTHONPATH", kubernetes_validate())
        .output()
        .expect("run kubernetes-validate");
    if output.status.success() {
        return Ok(());
    }
    Err(String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr))
}

/// The kubernetes-validate Python package, installed by `make setup`: the
/// directory to put on PYTHONPATH.
pub fn kubernetes_validate() -> PathBuf {
    artefact("KUBERNETES_VALIDATE", ".tools/kubernetes-validate")
}
