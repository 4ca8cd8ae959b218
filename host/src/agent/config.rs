//! Everything `serve` is told, as the command line builds it.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::{InstallationOverrides, KamajiDeployment, LeaseConfig};
use crate::model::Installation;
use crate::optout::OptOut;
use crate::plugin::PluginSource;
use crate::plugin::oci::RegistryOptions;
use crate::transport::TransportConfig;

/// Everything `serve` is told.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where the webhook, metrics and health endpoints listen.
    pub listen: SocketAddr,
    /// Certificate and key (PEM). Without them only a loopback address is allowed.
    pub tls: Option<TlsFiles>,
    pub installation: Installation,
    /// The plugin file, followed for changes, or registry reference; `None`
    /// runs the embedded plugin.
    pub plugin: Option<PluginSource>,
    /// How plugins are pulled from registries.
    pub registry: RegistryOptions,
    /// How often a tag reference is asked for its digest; `None` never.
    pub plugin_poll: Option<Duration>,
    pub transport: TransportConfig,
    /// Local mode: record payloads here instead of sending them.
    pub local: Option<LocalMode>,
    /// Payloads that may wait for delivery.
    pub queue_capacity: usize,
    /// Payloads delivered at once; 1 sends them in order over one connection.
    pub max_in_flight: NonZeroUsize,
    /// Events that may wait for the plugin.
    pub event_capacity: usize,
    pub heartbeat_interval: Duration,
    /// Read at every heartbeat; without it the snapshot comes by `POST /v1/fleet`.
    pub fleet_file: Option<PathBuf>,
    /// The runtime opt-out (`disabled: true`), followed for changes.
    pub config_file: Option<PathBuf>,
    /// How often the plugin and config files are polled.
    pub watch_interval: Duration,
    /// How long shutdown may take to build and deliver what is queued.
    pub shutdown_timeout: Duration,
    /// The absolute opt-out (flag or environment), if any.
    pub opt_out: Option<OptOut>,
    /// `POST /telemetry` is served (`--events webhook`): the webhook brings
    /// the events. Then, and only then, TLS is required off loopback.
    pub webhook: bool,
    /// The fleet (and with `--events watch` the events) come from the
    /// cluster. `None`: from `--fleet-file` or `POST /v1/fleet`, and the
    /// agent makes no Kubernetes API call.
    pub cluster: Option<ClusterSettings>,
}

/// Where local mode records, and how much it keeps.
#[derive(Debug, Clone)]
pub struct LocalMode {
    pub dir: PathBuf,
    pub budget_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything the cluster side is told.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Lifecycle events come from the watch (`--events watch`); else only
    /// the fleet and the installation do (the webhook brings the events).
    pub watch_events: bool,
    /// `--kubeconfig`; `None` infers (KUBECONFIG, ~/.kube/config, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    pub overrides: InstallationOverrides,
    /// Kamaji's controller: its opt-out is followed, and its version read;
    /// `None` (`--kamaji-deployment none`) does neither.
    pub kamaji_deployment: Option<KamajiDeployment>,
    pub lease: LeaseConfig,
}
