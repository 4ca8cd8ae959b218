//! Command-line interface: argument parsing and one module per command.

mod check;
mod describe;
mod input;
mod manifests;
mod output;
mod preview;
mod push_pull;
mod send;
mod serve;
mod view;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kamaji_telemetry::cluster::InstallationOverrides;
use kamaji_telemetry::model::Installation;
use kamaji_telemetry::plugin::oci::RegistryOptions;
use kamaji_telemetry::plugin::{
    Plugin, PluginArtifact, PluginRuntime, PluginSource, PrecompiledCache, SandboxLimits,
};

/// Anonymous usage telemetry for Kamaji, built by a sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "kamaji-telemetry", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that every command takes, before or after its name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Turn telemetry off. `--disable-telemetry=false` cannot override
    /// KAMAJI_TELEMETRY_DISABLED=true or DO_NOT_TRACK.
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub disable_telemetry: Option<bool>,

    /// A plugin component to use instead of the embedded default: a file,
    /// or oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(
        long,
        global = true,
        env = "KAMAJI_TELEMETRY_PLUGIN",
        value_name = "PATH|oci://REF"
    )]
    pub plugin: Option<PluginSource>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Where precompiled plugins are kept between runs
    /// [default: $XDG_CACHE_HOME/kamaji-telemetry or ~/.cache/kamaji-telemetry].
    #[arg(
        long,
        global = true,
        env = "KAMAJI_TELEMETRY_CACHE_DIR",
        value_name = "DIR"
    )]
    pub cache_dir: Option<PathBuf>,

    /// Compile the plugin on every start instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// How long one plugin call may run.
    #[arg(long, global = true, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub plugin_timeout: Duration,

    /// How much memory one plugin instance may use, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 512)]
    pub plugin_memory_mib: usize,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How plugins are pulled from and pushed to OCI registries.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// A Docker config.json with the registries' credentials (its `auths`).
    #[arg(
        long,
        global = true,
        env = "KAMAJI_TELEMETRY_REGISTRY_AUTH",
        value_name = "FILE"
    )]
    pub registry_auth: Option<PathBuf>,

    /// A PEM CA certificate to trust for registries, besides the system roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub registry_ca_file: Option<PathBuf>,

    /// A registry to speak plain HTTP to; repeat for several.
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The installation the events come from. `serve --events watch` reads
/// each one from the cluster unless it is given here.
#[derive(Debug, Args)]
pub struct InstallationArgs {
    /// The UID of the Service `default/kubernetes` in the management cluster
    /// (`kubectl get svc kubernetes -n default -o jsonpath='{.metadata.uid}'`).
    /// Plugins send only a pseudonym of it. [default: empty]
    #[arg(long, env = "KAMAJI_TELEMETRY_CLUSTER_UID")]
    pub cluster_uid: Option<String>,

    /// The Kamaji controller's version. [default: dev]
    #[arg(long, env = "KAMAJI_TELEMETRY_KAMAJI_VERSION")]
    pub kamaji_version: Option<String>,

    /// The management cluster's Kubernetes GitVersion (`kubectl version`).
    /// [default: Unknown]
    #[arg(long, env = "KAMAJI_TELEMETRY_KUBERNETES_VERSION")]
    pub kubernetes_version: Option<String>,
}

impl InstallationArgs {
    /// The installation as given, with defaults for what is not.
    fn installation(&self) -> Installation {
        Installation {
            cluster_uid: self.cluster_uid.clone().unwrap_or_default(),
            kamaji_version: self.kamaji_version.clone().unwrap_or("dev".into()),
            kubernetes_version: self.kubernetes_version.clone().unwrap_or("Unknown".into()),
        }
    }

    /// What was given, to override what the cluster says.
    fn overrides(&self) -> InstallationOverrides {
        InstallationOverrides {
            cluster_uid: self.cluster_uid.clone(),
            kamaji_version: self.kamaji_version.clone(),
            kubernetes_version: self.kubernetes_version.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the payloads the plugin builds from the input, and send nothing.
    Preview(preview::PreviewArgs),
    /// Build the payloads from the input and send them to the telemetry backend.
    Send(send::SendArgs),
    /// Run as an agent: watch of the cluster (or admission webhook),
    /// heartbeat, leader election, hot-swapped plugin, metrics.
    // Boxed: its many options would make every other command as large.
    Serve(Box<serve::ServeArgs>),
    /// Print the YAML that installs the agent in a cluster (kubectl apply -f -).
    Manifests(manifests::ManifestsArgs),
    /// Inspect the plugin.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Show what local mode recorded in a directory (`--mode local`).
    View(view::ViewArgs),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show what the plugin says it collects.
    Describe(describe::DescribeArgs),
    /// Check a plugin as serve would before taking it, and report what it costs.
    Check(check::CheckArgs),
    /// Publish a plugin component to an OCI registry.
    Push(push_pull::PushArgs),
    /// Fetch a plugin component from an OCI registry.
    Pull(push_pull::PullArgs),
}

/// Where `serve` takes TenantControlPlane events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventSource {
    /// Its own watch of the Kubernetes API.
    Watch,
    /// A validating admission webhook, POST /telemetry.
    Webhook,
}

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Preview(args) => preview::run(&cli.global, args),
        Command::Send(args) => send::run(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, *args),
        Command::Manifests(args) => manifests::run(&cli.global, args),
        Command::Plugin(PluginCommand::Describe(args)) => describe::run(&cli.global, args),
        Command::Plugin(PluginCommand::Check(args)) => check::run(&cli.global, args),
        Command::Plugin(PluginCommand::Push(args)) => push_pull::push(&cli.global, args),
        Command::Plugin(PluginCommand::Pull(args)) => push_pull::pull(&cli.global, args),
        Command::View(args) => view::run(args),
    }
}

pub fn init_logging(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAMAJI_TELEMETRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal, never in files or pipes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl GlobalArgs {
    fn limits(&self) -> SandboxLimits {
        SandboxLimits {
            deadline: self.plugin_timeout,
            memory_bytes: self.plugin_memory_mib.saturating_mul(1 << 20),
            ..SandboxLimits::default()
        }
    }

    fn cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir
            .clone()
            .or_else(PrecompiledCache::default_dir)
    }

    fn cache(&self) -> Option<PrecompiledCache> {
        if self.no_cache {
            return None;
        }
        self.cache_dir().map(PrecompiledCache::new)
    }

    /// How to reach registries; pulled plugins are kept next to the
    /// precompiled ones (even with --no-cache: they are what lets a restart
    /// work while the registry is down).
    fn registry_options(&self) -> RegistryOptions {
        RegistryOptions {
            auth_file: self.registry.registry_auth.clone(),
            ca_file: self.registry.registry_ca_file.clone(),
            insecure: self.registry.insecure_registry.clone(),
            cache_dir: self.cache_dir().map(|dir| dir.join("oci")),
        }
    }

    /// The engine that plugins run in, with the sandbox limits and the cache.
    fn plugin_runtime(&self) -> anyhow::Result<PluginRuntime> {
        Ok(PluginRuntime::new(self.limits(), self.cache())?)
    }

    /// The bytes of the plugin named by `--plugin`, or of the embedded default.
    fn plugin_artifact(&self) -> anyhow::Result<PluginArtifact> {
        let Some(source) = &self.plugin else {
            return Ok(PluginArtifact::embedded());
        };
        let artifact = block_on(source.fetch(&self.registry_options()))??;
        if let Some(digest) = &artifact.oci_digest {
            tracing::info!(plugin = %source, %digest, "plugin pulled");
        }
        Ok(artifact)
    }

    /// Loads the plugin named by `--plugin`, or the embedded default.
    fn load_plugin(&self) -> anyhow::Result<Plugin> {
        let artifact = self.plugin_artifact()?;
        let plugin = self
            .plugin_runtime()?
            .load_artifact(&artifact)
            .with_context(|| format!("cannot load the plugin {}", artifact.origin))?;
        if !plugin.denied_imports().is_empty() {
            tracing::warn!(
                imports = ?plugin.denied_imports(),
                "the plugin imports capabilities the host does not grant; calling them traps"
            );
        }
        Ok(plugin)
    }
}

/// Runs one future to completion, for the commands that are otherwise
/// synchronous and only need the network to fetch or publish a plugin.
fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}
