//! `make bench`: what kamaji-telemetry costs, measured side by side in one
//! run and printed as one table. See BENCHMARKS.md for the figures and how to
//! read them.
//!
//! In-process figures call the host library and the plugin's native Rust API
//! directly; end-to-end figures run the release binary as a process. Inputs
//! are generated from a fixed seed (module `inputs`), never committed.

pub mod inputs;
pub mod measure;
pub mod process;
pub mod report;
pub mod sections;
pub mod stats;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kamaji_telemetry::plugin::{
    DEFAULT_PLUGIN, InstanceAllocation, Plugin, PluginRuntime, SandboxLimits,
};

use measure::Plan;

/// Set to anything but `0` for a smoke run: fewer rounds, same inputs.
pub const QUICK_ENV: &str = "KAMAJI_BENCH_QUICK";
/// The release host binary to run; `make bench` builds it and sets this.
pub const BINARY_ENV: &str = "KAMAJI_TELEMETRY_BIN";

/// What every section needs: where things are, and how long to measure.
pub struct Context {
    pub quick: bool,
    /// The workspace root.
    pub root: PathBuf,
    /// The release `kamaji-telemetry` binary.
    pub binary: PathBuf,
    /// This crate's `kamaji-bench-launch`, which runs every measured process.
    launcher: PathBuf,
    /// The default plugin component, as `make plugin` builds it.
    pub plugin_file: PathBuf,
    /// Generated inputs and cache directories, removed at the end.
    scratch: tempfile::TempDir,
}

impl Context {
    pub fn from_env(launcher: &Path) -> Result<Self, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("the bench crate sits inside the workspace")?
            .to_path_buf();
        let binary = std::env::var_os(BINARY_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/kamaji-telemetry"));
        if !binary.is_file() {
            return Err(format!(
                "{} is not built: run `make bench`, which builds it (or set {BINARY_ENV})",
                binary.display()
            ));
        }
        let quick = std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        Ok(Self {
            quick,
            binary,
            launcher: launcher.to_path_buf(),
            plugin_file: root.join("target/components/kamaji-telemetry-plugin.wasm"),
            root,
            scratch: tempfile::Builder::new()
                .prefix("kamaji-bench-")
                .tempdir()
                .map_err(|e| format!("cannot create a scratch directory: {e}"))?,
        })
    }

    /// Sampling of in-process calls: `rounds` samples of about 20 ms each.
    pub fn plan(&self, rounds: usize) -> Plan {
        if self.quick {
            Plan {
                rounds: rounds.min(5),
                sample: Duration::from_millis(5),
            }
        } else {
            Plan {
                rounds,
                sample: Duration::from_millis(20),
            }
        }
    }

    /// How many times a process-level measurement runs.
    pub fn runs(&self, full: usize) -> usize {
        if self.quick { full.min(3) } else { full }
    }

    /// A path in the scratch directory.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// Writes a generated input into the scratch directory.
    pub fn input(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.scratch(name);
        std::fs::write(&path, bytes).expect("the scratch directory is writable");
        path
    }

    /// `kamaji-telemetry <command>` with the benchmark installation, and the
    /// precompiled cache in `cache` (a directory), or none.
    pub fn host(&self, command: &str, cache: Option<&Path>) -> Command {
        let mut host = process::host_command(&self.binary);
        host.arg(command).args([
            "--cluster-uid",
            inputs::CLUSTER_UID,
            "--kamaji-version",
            inputs::KAMAJI_VERSION,
            "--kubernetes-version",
            inputs::KUBERNETES_VERSION,
        ]);
        match cache {
            Some(dir) => host.arg("--cache-dir").arg(dir),
            None => host.arg("--no-cache"),
        };
        host
    }

    /// Runs a measured process to its end; see [`process::run`].
    pub fn run(&self, command: &Command) -> Result<process::Exit, String> {
        process::run(&self.launcher, command)
    }

    /// The cache that end-to-end runs share, as a long-running host has it.
    pub fn warm_cache(&self) -> PathBuf {
        self.scratch("cache")
    }
}

/// The embedded default plugin, loaded as the host loads it, with the given
/// allocator. The cache is left out: these are in-process measurements.
pub fn load_plugin(allocation: InstanceAllocation) -> Plugin {
    PluginRuntime::with_allocation(SandboxLimits::default(), None, allocation)
        .and_then(|runtime| runtime.load(DEFAULT_PLUGIN))
        .expect("the default plugin loads")
}

/// Every section, in the order of the issue.
pub fn run_all(context: &Context) -> Vec<report::Section> {
    let pooled = load_plugin(InstanceAllocation::Pooling);
    let on_demand = load_plugin(InstanceAllocation::OnDemand);
    let mut sections = vec![
        sections::plugin_speed::measure(context, &pooled),
        sections::sandbox_cost::measure(context, &pooled, &on_demand),
        sections::cold_start::measure(context),
    ];
    let (throughput, end_to_end) = sections::throughput::measure(context);
    sections.push(throughput);
    let (webhook, idle_serve) = sections::webhook::measure(context);
    sections.push(webhook);
    sections.push(sections::footprint::measure(
        context,
        &end_to_end,
        idle_serve,
    ));
    sections.push(sections::go_anchor::measure(context));
    sections.push(sections::serve_at_scale::measure(context));
    sections
}

/// Progress on stderr, so that stdout holds only the table.
pub fn progress(message: &str) {
    eprintln!("bench: {message}");
}
