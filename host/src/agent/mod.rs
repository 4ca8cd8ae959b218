//! `kamaji-telemetry serve`: the long-running agent next to the Kamaji
//! controller.
//!
//! ```text
//!  watch of TCPs and ─┐                ┌─ plugin worker ──────────┐
//!  DataStores (leader)│                │                          │
//!  or POST /telemetry ├─► intake ────► │ pipeline: plugin (swap-  │ ─► delivery ─► endpoint
//!  (admission webhook)│  (bounded,     │ pable) + leak guard      │    queue
//!  heartbeat ─────────┘  never waits)  └──────────────────────────┘
//!  (watch store, fleet file or POST /v1/fleet)
//! ```
//!
//! - `--events watch` (the default, [`cluster`]): the agent watches the
//!   Kubernetes API itself, beats from its store, and only the leader of its
//!   replicas hands anything to the plugin. Nothing is added to the
//!   admission path.
//! - `--events webhook`: the webhook only decodes the AdmissionReview and hands the event to a
//!   bounded intake, then allows the request: admission is never delayed by
//!   a plugin or the network.
//! - One worker builds the events in order, each with a single snapshot of
//!   the current plugin. A new plugin (its file changed, SIGHUP, or the
//!   registry tag it came from moved) is vetted on a blocking thread, then
//!   swapped in atomically ([`swap`]); no event is
//!   lost, built twice, or built by two plugins.
//! - The `--config` file can turn telemetry off and on at runtime; the flag
//!   and environment opt-outs are absolute (then nothing is loaded, built or
//!   sent, and the webhook still answers).
//! - On SIGTERM or Ctrl-C: intake stops, queued events are built and the
//!   delivery queue flushed within the shutdown timeout, and what was left is
//!   reported.

mod body_budget;
mod cluster;
mod collectors;
mod config_file;
mod delivery;
mod heartbeat;
mod intake;
mod metrics;
mod poll;
mod swap;
mod switch;
mod watch;
mod webhook;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use cluster::ClusterSettings;

use axum_server::tls_rustls::RustlsConfig;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch as state;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config_file::ConfigFileError;

use crate::cluster::ClusterHealth;
use crate::local_mode::{LocalModeError, LocalRecorder};
use crate::model::Installation;
use crate::optout::{OptOut, RuntimeSource, Verdict};
use crate::pipeline::Pipeline;
use crate::plugin::oci::RegistryOptions;
use crate::plugin::source::SourceError;
use crate::plugin::{Plugin, PluginArtifact, PluginRuntime, PluginSource, Refusal, vet};
use crate::transport::{self, FlushReport, QueueError, Transport, TransportConfig};
use cluster::ClusterSide;
use config_file::RuntimeOptOut;
use delivery::{Delivery, FinalFlush};
use heartbeat::{FleetInbox, FleetSource};
use intake::{Intake, Worker};
use metrics::Metrics;
use swap::Swapper;
use switch::Switch;
use watch::FileWatch;
use webhook::{AppState, Health};

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

/// Why the agent could not start or went down.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "refusing to serve plain HTTP on {0}: the API server calls webhooks over HTTPS only. \
         Give --tls-cert and --tls-key, or listen on a loopback address (127.0.0.1, [::1]) for testing"
    )]
    PlainHttpOffLoopback(SocketAddr),
    #[error("cannot use the TLS certificate {} and key {}: {source}", files.cert.display(), files.key.display())]
    Tls {
        files: TlsFiles,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the plugin {plugin} was refused: {refusal}")]
    Plugin { plugin: String, refusal: Refusal },
    #[error(transparent)]
    Fetch(#[from] SourceError),
    #[error(transparent)]
    ConfigFile(#[from] ConfigFileError),
    #[error(transparent)]
    Transport(#[from] transport::ConfigError),
    #[error(transparent)]
    LocalMode(#[from] LocalModeError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot handle signals: {0}")]
    Signal(std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("an agent task crashed: {0}")]
    Crashed(String),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClientError),
}

/// What shutdown left behind.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShutdownReport {
    /// Events still waiting for the plugin at the deadline.
    pub events_abandoned: u64,
    /// The delivery queue's final account; `None` when telemetry was off for good.
    pub flush: Option<FlushReport>,
}

/// Tells the worker that shutdown has begun, and its deadline.
#[derive(Debug, Clone)]
struct Stop(state::Receiver<Option<Instant>>);

impl Stop {
    /// The shutdown deadline, once shutdown begins.
    async fn wait(&mut self) -> Instant {
        match self.0.wait_for(Option::is_some).await {
            Ok(deadline) => deadline.unwrap_or_else(Instant::now),
            // The agent is gone: stop now.
            Err(_) => Instant::now(),
        }
    }
}

/// A started agent: listening, not yet serving. See [`Agent::serve`].
pub struct Agent {
    listener: TcpListener,
    address: SocketAddr,
    tls: Option<RustlsConfig>,
    state: Arc<AppState>,
    stop: state::Sender<Option<Instant>>,
    /// The heartbeat and file followers: aborted at shutdown.
    tasks: Vec<JoinHandle<()>>,
    /// The cluster side: told to stop at shutdown, and awaited, so that a
    /// leader gives up its Lease before the process ends.
    cluster: Option<JoinHandle<()>>,
    worker: Option<JoinHandle<u64>>,
    final_flush: Option<FinalFlush>,
    shutdown_timeout: Duration,
    /// Keeps a SIGHUP handler installed for the agent's whole life, so that a
    /// SIGHUP never terminates it, even with no file to read again.
    _hangup: Signal,
}

/// What runs while telemetry can be on, or nothing of it.
struct Parts {
    state: AppState,
    tasks: Vec<JoinHandle<()>>,
    cluster: Option<JoinHandle<()>>,
    worker: Option<JoinHandle<u64>>,
    final_flush: Option<FinalFlush>,
}

impl Agent {
    /// Loads and self-tests the plugin, starts the worker, the heartbeat and
    /// the file followers, and binds the listener. Must run within a Tokio
    /// runtime.
    pub async fn start(config: AgentConfig, plugins: PluginRuntime) -> Result<Self, AgentError> {
        let tls = tls_config(&config).await?;
        let hangup = signal(SignalKind::hangup()).map_err(AgentError::Signal)?;
        let (stop, stop_receiver) = state::channel(None);
        let mut parts = match &config.opt_out {
            Some(source) => Parts::off(&config, source),
            None => Parts::on(&config, plugins, Stop(stop_receiver)).await?,
        };
        if let (Some(files), Some(tls)) = (&config.tls, &tls) {
            parts
                .tasks
                .extend(follow_tls(files, tls, config.watch_interval).await?);
        }
        let listener = TcpListener::bind(config.listen).map_err(|source| AgentError::Listen {
            address: config.listen,
            source,
        })?;
        let address = listener.local_addr().map_err(|source| AgentError::Listen {
            address: config.listen,
            source,
        })?;
        Ok(Self {
            listener,
            address,
            tls,
            state: Arc::new(parts.state),
            stop,
            tasks: parts.tasks,
            cluster: parts.cluster,
            worker: parts.worker,
            final_flush: parts.final_flush,
            shutdown_timeout: config.shutdown_timeout,
            _hangup: hangup,
        })
    }

    /// The address bound, with the port chosen when `--listen` gave port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` resolves, then shuts down: intake stops, the
    /// queued events are built and the payloads delivered until the shutdown
    /// timeout, and the rest is counted and reported.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ShutdownReport, AgentError> {
        let http = axum_server::Handle::new();
        let app = webhook::router(Arc::clone(&self.state));
        let mut server = tokio::spawn(serve_http(self.listener, self.tls, app, http.clone()));
        tracing::info!(address = %self.address, "serving");
        tokio::select! {
            () = shutdown => {}
            ended = &mut server => return Err(server_failure(ended)),
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        tracing::info!(timeout = ?self.shutdown_timeout, "shutting down: intake stops, the queue is flushed");
        self.state.health.stopping.store(true, Ordering::Relaxed);
        http.graceful_shutdown(Some(self.shutdown_timeout));
        for task in &self.tasks {
            task.abort();
        }
        self.stop.send_replace(Some(deadline));
        if let Some(cluster) = self.cluster
            && tokio::time::timeout_at(deadline, cluster).await.is_err()
        {
            tracing::warn!("the cluster side did not stop by the deadline");
        }
        if tokio::time::timeout_at(deadline, server).await.is_err() {
            tracing::warn!("webhook connections still open at the deadline were cut");
        }
        let events_abandoned = match self.worker {
            // A crashed worker must not keep the built payloads from their flush.
            Some(worker) => worker.await.unwrap_or_else(|crash| {
                tracing::error!("the plugin worker crashed: {crash}");
                0
            }),
            None => 0,
        };
        let flush = match self.final_flush {
            Some(final_flush) => Some(final_flush.run(deadline).await),
            None => None,
        };
        Ok(ShutdownReport {
            events_abandoned,
            flush,
        })
    }
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C). The
/// handlers are installed now, so a signal that comes before the future is
/// first polled is not lost (and does not kill the process).
pub fn termination() -> Result<impl Future<Output = ()>, AgentError> {
    let mut terminate = signal(SignalKind::terminate()).map_err(AgentError::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(AgentError::Signal)?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
        }
    })
}

impl Parts {
    /// Telemetry off for good: no plugin, no transport, no socket but the
    /// listener. The webhook answers, and the metrics say so.
    fn off(config: &AgentConfig, source: &OptOut) -> Self {
        tracing::info!(
            "telemetry is disabled by {source}: webhooks are answered, nothing is built or sent"
        );
        let switch = Arc::new(Switch::off_for_good(source.clone()));
        let metrics = Arc::new(Metrics::new(
            Arc::default(),
            None,
            Arc::clone(&switch),
            None,
        ));
        // Nothing ever reads the intake: the switch, off for good, lets no event in.
        let (intake, _) = Intake::new(1, Arc::clone(&switch), Arc::clone(&metrics));
        let (_, fleet) = fleet_source(config);
        let state = AppState {
            intake,
            fleet,
            webhook: config.webhook,
            cluster: None,
            delivery: None,
            switch,
            metrics,
            health: Health {
                worker_alive: Arc::new(AtomicBool::new(true)),
                stopping: AtomicBool::new(false),
            },
        };
        Self {
            state,
            tasks: Vec::new(),
            cluster: None,
            worker: None,
            final_flush: None,
        }
    }

    async fn on(
        config: &AgentConfig,
        plugins: PluginRuntime,
        stop: Stop,
    ) -> Result<Self, AgentError> {
        let plugins = Arc::new(plugins);
        let (artifact, plugin) = initial_plugin(config, &plugins).await?;
        let (delivery, final_flush) = delivery(config)?;
        let delivery = Arc::new(delivery);
        let cluster = cluster_client(config).await?;
        let health = cluster.as_ref().map(|side| Arc::clone(&side.health));
        let config_file = match &config.config_file {
            Some(path) => Some(RuntimeOptOut::open(path).await?),
            None => None,
        };
        let switch = Arc::new(Switch::new(
            runtime_sources(config, config_file.as_ref()),
            Arc::clone(&delivery),
        ));
        tracing::info!(plugin = %artifact.origin, "plugin {} loaded", plugin.info());
        let pipeline = Arc::new(Pipeline::new(plugin, config.installation.clone()));
        let metrics = Arc::new(Metrics::new(
            Arc::clone(delivery.stats()),
            health.clone(),
            Arc::clone(&switch),
            Some(Arc::clone(&pipeline)),
        ));
        let (intake, events) = Intake::new(
            config.event_capacity,
            Arc::clone(&switch),
            Arc::clone(&metrics),
        );
        let alive = Arc::new(AtomicBool::new(true));
        let worker = Worker {
            pipeline: Arc::clone(&pipeline),
            delivery: Arc::clone(&delivery),
            switch: Arc::clone(&switch),
            metrics: Arc::clone(&metrics),
            alive: Arc::clone(&alive),
        };
        let worker = tokio::spawn(worker.run(events, stop.clone()));

        let mut tasks = Vec::new();
        if let Some(file) = config_file {
            let (changes, follower) = file.follow(Arc::clone(&switch), Arc::clone(&metrics));
            tasks.push(tokio::spawn(watch::follow(
                changes,
                config.watch_interval,
                hangup()?,
                async move |bytes| follower.apply(&bytes),
            )));
        }
        if let Some(parts) = &cluster
            && let Some(deployment) = &parts.settings.kamaji_deployment
        {
            tasks.push(tokio::spawn(cluster::follow_kamaji(
                parts.client.clone(),
                deployment.clone(),
                Arc::clone(&switch),
            )));
        }
        if let Some(source) = &config.plugin {
            let swapper = Swapper::new(plugins, Arc::clone(&pipeline), Arc::clone(&metrics));
            tasks.extend(follow_plugin(config, source, &artifact, swapper)?);
        }
        let from_cluster = cluster.is_some();
        let (feed, fleet) = start_feed(config, cluster, &intake, pipeline, (&switch, stop));
        let cluster = if from_cluster {
            Some(feed)
        } else {
            tasks.push(feed);
            None
        };
        let state = AppState {
            intake,
            fleet,
            webhook: config.webhook,
            cluster: health,
            delivery: Some(Arc::clone(&delivery)),
            switch,
            metrics,
            health: Health {
                worker_alive: alive,
                stopping: AtomicBool::new(false),
            },
        };
        Ok(Self {
            state,
            tasks,
            cluster,
            worker: Some(worker),
            final_flush: Some(final_flush),
        })
    }
}

/// The cluster side's parts for `--events watch`. Building the client sends
/// nothing: the first request goes out when telemetry is on.
async fn cluster_client(config: &AgentConfig) -> Result<Option<ClusterParts>, AgentError> {
    let Some(settings) = &config.cluster else {
        return Ok(None);
    };
    let client = crate::cluster::connect(settings.kubeconfig.as_deref()).await?;
    Ok(Some(ClusterParts {
        client,
        settings: settings.clone(),
        health: Arc::default(),
    }))
}

struct ClusterParts {
    client: kube::Client,
    settings: ClusterSettings,
    health: Arc<ClusterHealth>,
}

/// Starts what feeds the intake: the cluster side, or the heartbeat of the
/// fleet file or posted snapshots (then the webhook brings the events).
/// Returns the task, and the inbox of `POST /v1/fleet` if it is used.
fn start_feed(
    config: &AgentConfig,
    cluster: Option<ClusterParts>,
    intake: &Intake,
    pipeline: Arc<Pipeline>,
    (switch, stop): (&Switch, Stop),
) -> (JoinHandle<()>, Option<Arc<FleetInbox>>) {
    match cluster {
        Some(parts) => {
            let side = ClusterSide {
                client: parts.client,
                settings: parts.settings,
                health: parts.health,
                intake: intake.clone(),
                pipeline,
                heartbeat_interval: config.heartbeat_interval,
            };
            (
                tokio::spawn(cluster::run(side, switch.changes(), stop)),
                None,
            )
        }
        None => {
            let (source, fleet) = fleet_source(config);
            let beat = heartbeat::run(source, config.heartbeat_interval, intake.clone());
            (tokio::spawn(beat), fleet)
        }
    }
}

/// With the webhook, plain HTTP only on loopback (tests, port-forwarding).
async fn tls_config(config: &AgentConfig) -> Result<Option<RustlsConfig>, AgentError> {
    match &config.tls {
        Some(files) => RustlsConfig::from_pem_file(&files.cert, &files.key)
            .await
            .map(Some)
            .map_err(|source| AgentError::Tls {
                files: files.clone(),
                source,
            }),
        // Probes and scrapes are plain HTTP in a cluster; the API server
        // calls webhooks over HTTPS only.
        None if config.listen.ip().is_loopback() || !config.webhook => Ok(None),
        None => Err(AgentError::PlainHttpOffLoopback(config.listen)),
    }
}

/// Follows the certificate and the key, so that a renewed certificate (as
/// cert-manager rotates it in the Secret) is served without a restart. A
/// pair that does not load, say while only one of the two is new, leaves the
/// current one in use.
async fn follow_tls(
    files: &TlsFiles,
    tls: &RustlsConfig,
    interval: Duration,
) -> Result<Vec<JoinHandle<()>>, AgentError> {
    let mut tasks = Vec::new();
    for path in [&files.cert, &files.key] {
        let watch = FileWatch::new(path, &read(path).await?);
        let (files, tls) = (files.clone(), tls.clone());
        let reload = async move |_| match tls.reload_from_pem_file(&files.cert, &files.key).await {
            Ok(()) => tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded"),
            Err(error) => tracing::warn!(
                cert = %files.cert.display(),
                "cannot reload the TLS certificate, the current one stays: {error}"
            ),
        };
        tasks.push(tokio::spawn(watch::follow(
            watch,
            interval,
            hangup()?,
            reload,
        )));
    }
    Ok(tasks)
}

/// Reads (or pulls) and vets the plugin to start with: a refused one
/// stops the start.
async fn initial_plugin(
    config: &AgentConfig,
    plugins: &Arc<PluginRuntime>,
) -> Result<(PluginArtifact, Plugin), AgentError> {
    let artifact = match &config.plugin {
        Some(source) => source.fetch(&config.registry).await?,
        None => PluginArtifact::embedded(),
    };
    let plugins = Arc::clone(plugins);
    let vetted_artifact = artifact.clone();
    let vetted = tokio::task::spawn_blocking(move || vet(&plugins, &vetted_artifact).accepted())
        .await
        .map_err(|crash| AgentError::Crashed(crash.to_string()))?;
    let plugin = vetted.map_err(|refusal| AgentError::Plugin {
        plugin: artifact.origin.clone(),
        refusal,
    })?;
    Ok((artifact, plugin))
}

/// Follows where the plugin came from: each new content of the file, or
/// each new digest of the tag, is a swap candidate. A digest pin never
/// changes, so it is not polled.
fn follow_plugin(
    config: &AgentConfig,
    source: &PluginSource,
    current: &PluginArtifact,
    swapper: Swapper,
) -> Result<Option<JoinHandle<()>>, AgentError> {
    match source {
        PluginSource::File(path) => {
            let watch = FileWatch::new(path, &current.bytes);
            let path = path.clone();
            let swap = async move |bytes| {
                swapper.try_swap(PluginArtifact::file(&path, bytes)).await;
            };
            Ok(Some(tokio::spawn(watch::follow(
                watch,
                config.watch_interval,
                hangup()?,
                swap,
            ))))
        }
        PluginSource::Oci(reference) => {
            let Some(interval) = config.plugin_poll else {
                return Ok(None);
            };
            if reference.digest().is_some() {
                tracing::warn!(plugin = %source, "--plugin-poll is ignored: a digest pin never changes");
                return Ok(None);
            }
            let registry =
                crate::plugin::oci::Registry::new(&config.registry).map_err(SourceError::from)?;
            let tag = poll::TagWatch {
                registry,
                reference: reference.clone(),
                current: current.oci_digest.clone().unwrap_or_default(),
            };
            Ok(Some(tokio::spawn(tag.follow(interval, swapper))))
        }
    }
}

/// The queue to the endpoint, or in local mode the recorder: then no
/// transport exists, so nothing can open a connection.
fn delivery(config: &AgentConfig) -> Result<(Delivery, FinalFlush), AgentError> {
    match &config.local {
        Some(local) => {
            let recorder = LocalRecorder::open(&local.dir, local.budget_bytes)?;
            tracing::info!(dir = %local.dir.display(), "local mode: payloads are recorded, none is sent");
            Ok(Delivery::local(recorder))
        }
        None => {
            let transport = Arc::new(Transport::new(config.transport.clone())?);
            Ok(Delivery::start(
                transport,
                config.queue_capacity,
                config.max_in_flight,
            )?)
        }
    }
}

/// The runtime opt-out sources `serve` follows, each with its verdict at
/// start. Kamaji's controller has not been read yet: it holds telemetry off
/// until its watch says otherwise.
fn runtime_sources(
    config: &AgentConfig,
    config_file: Option<&RuntimeOptOut>,
) -> Vec<(RuntimeSource, Verdict)> {
    let mut sources = Vec::new();
    if let Some(file) = config_file {
        sources.push((RuntimeSource::ConfigFile, file.initial.clone()));
    }
    match config
        .cluster
        .as_ref()
        .map(|cluster| &cluster.kamaji_deployment)
    {
        Some(Some(deployment)) => sources.push((
            RuntimeSource::KamajiController,
            Verdict::Unknown(format!(
                "the Kamaji controller's Deployment {deployment} has not been read yet"
            )),
        )),
        _ => tracing::warn!(
            "--kamaji-deployment none: Kamaji's own --disable-telemetry is not followed"
        ),
    }
    sources
}

fn fleet_source(config: &AgentConfig) -> (FleetSource, Option<Arc<FleetInbox>>) {
    match &config.fleet_file {
        Some(path) => (FleetSource::File(path.clone()), None),
        None => {
            let inbox = Arc::new(FleetInbox::default());
            (FleetSource::Posted(Arc::clone(&inbox)), Some(inbox))
        }
    }
}

fn hangup() -> Result<Signal, AgentError> {
    signal(SignalKind::hangup()).map_err(AgentError::Signal)
}

async fn read(path: &Path) -> Result<Vec<u8>, AgentError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| AgentError::Read {
            path: path.to_owned(),
            source,
        })
}

async fn serve_http(
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    app: axum::Router,
    handle: axum_server::Handle<SocketAddr>,
) -> std::io::Result<()> {
    let service = app.into_make_service();
    match tls {
        Some(tls) => {
            with_timeouts(axum_server::tls_rustls::from_tcp_rustls(listener, tls)?)
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            with_timeouts(axum_server::from_tcp(listener)?)
                .handle(handle)
                .serve(service)
                .await
        }
    }
}

/// How long a client may take to send a request's headers, its first ones
/// included: then its connection is closed, so that idle or stalled
/// connections do not pile up. The API server sends a review at once.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn with_timeouts<Acceptor>(
    mut server: axum_server::Server<SocketAddr, Acceptor>,
) -> axum_server::Server<SocketAddr, Acceptor> {
    server
        .http_builder()
        .http1()
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Before the first request, the protocol is not known yet (HTTP/1 or 2):
    // this bounds that wait, and the TLS acceptor bounds the handshake.
    server.first_request_timeout(HEADER_READ_TIMEOUT)
}

/// The server ended before shutdown was asked for.
fn server_failure(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> AgentError {
    match ended {
        Ok(Err(error)) => AgentError::Serve(error),
        Ok(Ok(())) => AgentError::Serve(std::io::Error::other("the server stopped")),
        Err(crash) => AgentError::Crashed(crash.to_string()),
    }
}
