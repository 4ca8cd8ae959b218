//! `kamaji-telemetry send`: build the payloads and deliver them.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;
use kamaji_telemetry::agent::LocalMode;
use kamaji_telemetry::model::Payload;
use kamaji_telemetry::optout;
use kamaji_telemetry::pipeline::Pipeline;
use kamaji_telemetry::plugin::Plugin;
use kamaji_telemetry::transport::local_mode::LocalRecorder;
use kamaji_telemetry::transport::{
    DEFAULT_ENDPOINT, DeliveryQueue, FlushReport, RetryPolicy, Transport, TransportConfig,
};

use super::input::{self, Totals};
use super::{GlobalArgs, InstallationArgs};

/// `send`'s --max-in-flight: a bulk sender keeps a few requests in flight so
/// that round trips overlap, on a few connections (see `DeliveryArgs`).
const MAX_IN_FLIGHT: NonZeroUsize = NonZeroUsize::new(8).unwrap();

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Kubernetes JSON or YAML documents, as for `preview`. `-` reads stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    inputs: Vec<PathBuf>,

    #[command(flatten)]
    installation: InstallationArgs,

    #[command(flatten)]
    delivery: DeliveryArgs,
}

/// Where and how payloads are delivered; shared with `serve`.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// The telemetry backend's base URL; payloads go to `<URL>/<route>`.
    #[arg(long, env = "KAMAJI_TELEMETRY_ENDPOINT", value_name = "URL", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,

    /// Extra CA certificates (PEM) to trust besides the system's, for a proxy
    /// or a private endpoint. HTTPS_PROXY and NO_PROXY are honoured.
    #[arg(long, env = "KAMAJI_TELEMETRY_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Time limit of one HTTP attempt.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// First retry backoff; it doubles up to --retry-max-interval, with full jitter.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub retry_initial_backoff: Duration,

    /// Longest wait between two attempts.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub retry_max_interval: Duration,

    /// Total time one payload may spend on retries before it is given up.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = humantime::parse_duration)]
    pub retry_max_elapsed: Duration,

    /// Payloads that may wait for delivery; more are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub queue_capacity: usize,

    /// Payloads delivered at once, each over a connection of its own; with 1
    /// they go in order over one connection [default: 8 for `send`, 1 for
    /// `serve`, which sends a few a minute].
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<NonZeroUsize>,

    /// `on`: send. `local`: build and check every payload as usual, but
    /// write it with its redaction report to --local-dir instead, and open
    /// no connection (read it with `kamaji-telemetry view DIR`).
    #[arg(long, env = "KAMAJI_TELEMETRY_MODE", value_enum, default_value_t = Mode::On)]
    pub mode: Mode,

    /// Where local mode records.
    #[arg(
        long,
        env = "KAMAJI_TELEMETRY_LOCAL_DIR",
        value_name = "DIR",
        required_if_eq("mode", "local")
    )]
    pub local_dir: Option<PathBuf>,

    /// The most local mode keeps in --local-dir, in MiB; the oldest records go first.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub local_max_mib: u64,
}

/// Whether payloads are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    On,
    Local,
}

impl DeliveryArgs {
    /// Local mode's directory and budget, when it is on.
    pub fn local_mode(&self) -> Option<LocalMode> {
        let dir = self
            .local_dir
            .clone()
            .filter(|_| self.mode == Mode::Local)?;
        Some(LocalMode {
            dir,
            budget_bytes: self.local_max_mib.saturating_mul(1 << 20),
        })
    }

    pub fn transport(&self, plugin_name: &str) -> anyhow::Result<Transport> {
        let user_agent = format!(
            "kamaji-telemetry/{} plugin/{plugin_name}",
            env!("CARGO_PKG_VERSION")
        );
        Ok(Transport::new(self.transport_config(user_agent))?)
    }

    /// The transport's settings from these flags.
    pub fn transport_config(&self, user_agent: String) -> TransportConfig {
        let mut config = TransportConfig::new(user_agent);
        config.endpoint = self.endpoint.clone();
        config.ca_file = self.ca_file.clone();
        config.timeout = self.timeout;
        config.retry = RetryPolicy {
            initial_backoff: self.retry_initial_backoff,
            max_interval: self.retry_max_interval,
            max_elapsed: self.retry_max_elapsed,
        };
        config
    }

    /// Long enough for every queued payload's retries to run their course.
    fn flush_deadline(&self) -> Duration {
        self.retry_max_elapsed + self.timeout * 2
    }
}

pub fn run(global: &GlobalArgs, args: SendArgs) -> anyhow::Result<ExitCode> {
    // Checked before anything else: when off, no plugin is loaded, no input
    // read, no name resolved and no socket opened.
    if let Some(source) = optout::from_process(global.disable_telemetry) {
        println!("telemetry is disabled by {source}: nothing was sent");
        return Ok(ExitCode::SUCCESS);
    }
    let sources = input::open_sources(&args.inputs)?;
    let plugin = global.load_plugin()?;
    if let Some(local) = args.delivery.local_mode() {
        return record(plugin, args, sources, &local);
    }
    let description = plugin.description();
    let plugin_name = format!("{}/{}", description.name, description.version);
    let transport = Arc::new(args.delivery.transport(&plugin_name)?);
    let pipeline = Pipeline::new(plugin, args.installation.installation());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let max_in_flight = args.delivery.max_in_flight.unwrap_or(MAX_IN_FLIGHT);
    let queue = runtime.block_on(async {
        DeliveryQueue::start(transport, args.delivery.queue_capacity, max_in_flight)
    })?;
    let totals = input::process_all(&pipeline, sources, |label: &str, payload: Payload| {
        if let Err(dropped) = queue.try_enqueue(payload.route.as_str(), payload.body.into_bytes()) {
            eprintln!("dropped: {label}: {dropped}");
        }
    });
    let deadline = tokio::time::Instant::now() + args.delivery.flush_deadline();
    let report = runtime.block_on(queue.close(deadline));
    println!("{}", summary(&totals, &report));
    Ok(if delivered_everything(&totals, &report) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Local mode: every payload recorded, no transport made, so no connection.
fn record(
    plugin: Plugin,
    args: SendArgs,
    sources: Vec<input::Source>,
    local: &LocalMode,
) -> anyhow::Result<ExitCode> {
    let mut recorder = LocalRecorder::open(&local.dir, local.budget_bytes)?;
    let pipeline = Pipeline::new(plugin, args.installation.installation());
    let mut recorded = 0;
    let mut unrecorded = 0;
    let totals =
        input::process_all(
            &pipeline,
            sources,
            |label: &str, payload: Payload| match recorder.record(&payload, SystemTime::now()) {
                Ok(()) => recorded += 1,
                Err(error) => {
                    eprintln!("error: {label}: {error}");
                    unrecorded += 1;
                }
            },
        );
    println!(
        "local mode: recorded {recorded} payloads in {} (nothing sent), not recorded {unrecorded}, blocked {}, plugin errors {}, bad documents {}",
        local.dir.display(),
        totals.blocked,
        totals.failed,
        totals.bad_documents,
    );
    Ok(if totals.has_problems() || unrecorded > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn delivered_everything(totals: &Totals, report: &FlushReport) -> bool {
    let stats = &report.stats;
    !totals.has_problems() && report.left == 0 && stats.sent == totals.payloads as u64
}

fn summary(totals: &Totals, report: &FlushReport) -> String {
    let stats = &report.stats;
    let dropped = stats.dropped_queue_full + stats.dropped_opt_out + stats.left_at_shutdown;
    format!(
        "sent {}, retried {}, dropped {}, blocked {}, rejected {}, failed {}, plugin errors {}, bad documents {}",
        stats.sent,
        stats.retried,
        dropped,
        totals.blocked,
        stats.rejected,
        stats.failed,
        totals.failed,
        totals.bad_documents,
    )
}
