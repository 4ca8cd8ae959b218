//! `kamaji-telemetry serve`: the long-running agent (see the library's `agent`).

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use kamaji_telemetry::agent::{
    Agent, AgentConfig, ClusterSettings, ShutdownReport, TlsFiles, termination,
};
use kamaji_telemetry::cluster::{
    DEFAULT_KAMAJI_DEPLOYMENT, DEFAULT_LEASE_NAME, KamajiDeployment, LeaseConfig,
};
use kamaji_telemetry::optout;

use super::send::DeliveryArgs;
use super::{EventSource, GlobalArgs, InstallationArgs};

/// `serve`'s --max-in-flight: a few payloads a minute need no more than one
/// connection, and go in the order they were built.
const MAX_IN_FLIGHT: NonZeroUsize = NonZeroUsize::MIN;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where TenantControlPlane events come from: the agent's own watch of
    /// the Kubernetes API, or an admission webhook (POST /telemetry).
    #[arg(long, value_enum, default_value_t = EventSource::Watch)]
    events: EventSource,

    /// Where the heartbeat's fleet comes from: the watch of the cluster, or
    /// snapshots posted to POST /v1/fleet (--events webhook only). See also
    /// --fleet-file.
    #[arg(long, value_enum, default_value_t = FleetFrom::Cluster)]
    fleet_from: FleetFrom,

    /// The kubeconfig file for the cluster [default: KUBECONFIG,
    /// ~/.kube/config, else the pod's service account].
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,

    /// The Kamaji controller's Deployment. Kamaji's own opt-out, its
    /// `--disable-telemetry`, is followed there: telemetry stays off while
    /// the flag is set and while the Deployment cannot be read. Its
    /// `app.kubernetes.io/version` label (else image tag) is Kamaji's version,
    /// unless --kamaji-version. `none` runs without Kamaji's switch.
    #[arg(
        long,
        env = "KAMAJI_TELEMETRY_KAMAJI_DEPLOYMENT",
        value_name = "NAMESPACE/NAME|none",
        default_value = DEFAULT_KAMAJI_DEPLOYMENT
    )]
    kamaji_deployment: KamajiDeploymentArg,

    #[command(flatten)]
    lease: LeaseArgs,

    /// Where the webhook (POST /telemetry), POST /v1/fleet, /metrics, /healthz
    /// and /readyz listen. Plain HTTP only on a loopback address.
    #[arg(
        long,
        env = "KAMAJI_TELEMETRY_LISTEN",
        value_name = "ADDR",
        default_value = "0.0.0.0:9443"
    )]
    listen: SocketAddr,

    /// The server certificate chain (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The server's private key (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Time between heartbeats (give or take 10% with --events watch); the
    /// first one is sent at start, or once the watches have synced.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    heartbeat_interval: Duration,

    /// The fleet snapshot for heartbeats, read again at each one: a List as
    /// `kubectl get tenantcontrolplanes,datastores -A -o json` prints it.
    /// Only with --events webhook; the agent then makes no Kubernetes API call.
    #[arg(long, value_name = "PATH")]
    fleet_file: Option<PathBuf>,

    /// A YAML or TOML file whose `disabled: true` turns telemetry off while
    /// the agent runs, and `disabled: false` (or no key) back on. It cannot
    /// turn on telemetry that --disable-telemetry or the environment turned off.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// How often the --plugin, --config and TLS files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    watch_interval: Duration,

    /// How often to ask the registry where the --plugin tag points; a new
    /// digest is checked and swapped in as a new plugin file would be.
    /// Off by default; a digest pin is never polled.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    plugin_poll: Option<Duration>,

    /// How long shutdown may take to build and deliver what is queued.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,

    /// Events that may wait for the plugin; more are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    event_capacity: usize,

    #[command(flatten)]
    installation: InstallationArgs,

    #[command(flatten)]
    delivery: DeliveryArgs,
}

/// `--kamaji-deployment`: a Deployment, or `none`.
#[derive(Debug, Clone)]
struct KamajiDeploymentArg(Option<KamajiDeployment>);

impl FromStr for KamajiDeploymentArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "none" {
            return Ok(Self(None));
        }
        text.parse().map(|deployment| Self(Some(deployment)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FleetFrom {
    Cluster,
    Post,
}

/// The leader election among the agent's replicas (--events watch).
#[derive(Debug, Args)]
struct LeaseArgs {
    /// The namespace of the Lease: the agent's own.
    #[arg(
        long,
        env = "POD_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "kamaji-system"
    )]
    lease_namespace: String,

    #[arg(long, value_name = "NAME", default_value = DEFAULT_LEASE_NAME)]
    lease_name: String,

    /// How long the leader's Lease holds without renewal: how long a
    /// failover takes at most.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,

    /// This replica's name in the Lease [default: the host name and process id].
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    leader_identity: Option<String>,
}

impl LeaseArgs {
    fn config(self) -> LeaseConfig {
        LeaseConfig {
            namespace: self.lease_namespace,
            name: self.lease_name,
            identity: self.leader_identity.unwrap_or_else(default_identity),
            duration: self.lease_duration,
        }
    }
}

/// Unique among the replicas: a pod's host name is its name, and the
/// process id tells apart two agents on one machine.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "kamaji-telemetry".to_owned());
    format!("{host}-{}", std::process::id())
}

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Events from the watch need the watch, whose store is the fleet: a file
    // or posted snapshots would silently be ignored.
    anyhow::ensure!(
        args.events == EventSource::Webhook
            || (args.fleet_file.is_none() && args.fleet_from == FleetFrom::Cluster),
        "--fleet-file and --fleet-from post are for --events webhook; with --events watch the fleet comes from the cluster"
    );
    // Without the cluster, Kamaji's own opt-out cannot be read: say so
    // rather than track a user who opted out there.
    let from_cluster = args.fleet_file.is_none() && args.fleet_from == FleetFrom::Cluster;
    if let (false, Some(deployment)) = (from_cluster, &args.kamaji_deployment.0) {
        anyhow::bail!(
            "with --fleet-file or --fleet-from post, serve makes no Kubernetes API call, so it cannot \
             follow Kamaji's --disable-telemetry on {deployment}: pass --kamaji-deployment none to run \
             without Kamaji's switch"
        );
    }
    let opt_out = optout::from_process(global.disable_telemetry);
    if let Some(source) = &opt_out {
        println!(
            "telemetry is disabled by {source}: serve answers webhooks (always allowing) and builds and sends nothing"
        );
    }
    let config = agent_config(global, args, opt_out);
    let local = config.local.is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let stop = termination()?;
        let plugins = global.plugin_runtime()?;
        let agent = Agent::start(config, plugins).await?;
        // One line that scripts and tests can wait for.
        println!("listening on {}://{}", agent.scheme(), agent.local_addr());
        anyhow::Ok(agent.serve(stop).await?)
    })?;
    println!("{}", summary(&report, local));
    Ok(ExitCode::SUCCESS)
}

fn agent_config(
    global: &GlobalArgs,
    args: ServeArgs,
    opt_out: Option<optout::OptOut>,
) -> AgentConfig {
    let user_agent = format!("kamaji-telemetry/{} (serve)", env!("CARGO_PKG_VERSION"));
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let from_cluster = args.fleet_file.is_none() && args.fleet_from == FleetFrom::Cluster;
    let cluster = from_cluster.then(|| ClusterSettings {
        watch_events: args.events == EventSource::Watch,
        kubeconfig: args.kubeconfig,
        overrides: args.installation.overrides(),
        kamaji_deployment: args.kamaji_deployment.0,
        lease: args.lease.config(),
    });
    AgentConfig {
        listen: args.listen,
        tls,
        installation: args.installation.installation(),
        plugin: global.plugin.clone(),
        registry: global.registry_options(),
        plugin_poll: args.plugin_poll,
        transport: args.delivery.transport_config(user_agent),
        local: args.delivery.local_mode(),
        queue_capacity: args.delivery.queue_capacity,
        max_in_flight: args.delivery.max_in_flight.unwrap_or(MAX_IN_FLIGHT),
        event_capacity: args.event_capacity,
        heartbeat_interval: args.heartbeat_interval,
        fleet_file: args.fleet_file,
        config_file: args.config,
        watch_interval: args.watch_interval,
        shutdown_timeout: args.shutdown_timeout,
        opt_out,
        webhook: args.events == EventSource::Webhook,
        cluster,
    }
}

fn summary(report: &ShutdownReport, local: bool) -> String {
    let Some(flush) = &report.flush else {
        return "stopped: telemetry was disabled, nothing was sent".to_owned();
    };
    let stats = &flush.stats;
    if local {
        return format!(
            "stopped: local mode recorded {} payloads (nothing sent), {} not recorded; {} events not built",
            stats.recorded, stats.failed, report.events_abandoned
        );
    }
    format!(
        "stopped: sent {}, retried {}, rejected {}, failed {}, dropped {} (queue full {}, opt-out {}); left undelivered at shutdown: {} payloads, {} events not built",
        stats.sent,
        stats.retried,
        stats.rejected,
        stats.failed,
        stats.dropped_queue_full + stats.dropped_opt_out,
        stats.dropped_queue_full,
        stats.dropped_opt_out,
        flush.left,
        report.events_abandoned,
    )
}
