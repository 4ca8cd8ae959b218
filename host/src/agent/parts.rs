//! What runs while telemetry can be on, wired together: the plugin and its
//! pipeline, the outbox, the switch and its sources, the intake and its
//! worker, the feeds (the cluster side, or the heartbeat) and the followers
//! of the plugin and config files. Or, with telemetry off for good, nothing
//! but what answers HTTP.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::task::JoinHandle;

use super::cluster_side::{self, ClusterSide};
use super::config::{AgentConfig, ClusterSettings};
use super::config_file::RuntimeOptOut;
use super::failure::AgentError;
use super::heartbeat::{self, FleetInbox, FleetSource};
use super::intake::{Intake, Worker};
use super::metrics::Metrics;
use super::outbox::{FinalFlush, Outbox};
use super::poll;
use super::signals::{ShutdownSignal, hangup};
use super::swap::Swapper;
use super::switch::Switch;
use super::watch::{self, FileWatch};
use super::webhook::{AppState, Health};
use crate::cluster::ClusterHealth;
use crate::optout::{OptOut, RuntimeSource, Verdict};
use crate::pipeline::Pipeline;
use crate::plugin::source::SourceError;
use crate::plugin::{Plugin, PluginArtifact, PluginRuntime, PluginSource, vet};
use crate::transport::Transport;
use crate::transport::local_mode::LocalRecorder;

/// What runs while telemetry can be on, or nothing of it.
pub struct Parts {
    /// What the HTTP handlers share.
    pub state: Arc<AppState>,
    /// The heartbeat and file followers: aborted at shutdown.
    pub tasks: Vec<JoinHandle<()>>,
    /// The cluster side, told to stop at shutdown.
    pub cluster: Option<JoinHandle<()>>,
    pub worker: Option<JoinHandle<u64>>,
    pub final_flush: Option<FinalFlush>,
}

impl Parts {
    /// Telemetry off for good: no plugin, no transport, no socket but the
    /// listener. The webhook answers, and the metrics say so.
    pub fn off(config: &AgentConfig, source: &OptOut) -> Self {
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
        let state = Arc::new(AppState {
            intake,
            fleet,
            webhook: config.webhook,
            cluster: None,
            outbox: None,
            switch,
            metrics,
            health: Health {
                worker_alive: Arc::new(AtomicBool::new(true)),
                stopping: AtomicBool::new(false),
            },
        });
        Self {
            state,
            tasks: Vec::new(),
            cluster: None,
            worker: None,
            final_flush: None,
        }
    }

    pub async fn on(
        config: &AgentConfig,
        plugins: PluginRuntime,
        shutdown: ShutdownSignal,
    ) -> Result<Self, AgentError> {
        let plugins = Arc::new(plugins);
        let (artifact, plugin) = initial_plugin(config, &plugins).await?;
        let (outbox, final_flush) = outbox(config)?;
        let outbox = Arc::new(outbox);
        let cluster = cluster_client(config).await?;
        let health = cluster.as_ref().map(|side| Arc::clone(&side.health));
        let config_file = match &config.config_file {
            Some(path) => Some(RuntimeOptOut::open(path).await?),
            None => None,
        };
        let switch = Arc::new(Switch::new(
            runtime_sources(config, config_file.as_ref()),
            Arc::clone(&outbox),
        ));
        tracing::info!(plugin = %artifact.origin, "plugin {} loaded", plugin.info());
        let pipeline = Arc::new(Pipeline::new(plugin, config.installation.clone()));
        let metrics = Arc::new(Metrics::new(
            Arc::clone(outbox.stats()),
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
            outbox: Arc::clone(&outbox),
            switch: Arc::clone(&switch),
            metrics: Arc::clone(&metrics),
            alive: Arc::clone(&alive),
        };
        let worker = tokio::spawn(worker.run(events, shutdown.clone()));

        let mut tasks =
            follow_opt_outs(config, config_file, cluster.as_ref(), (&switch, &metrics))?;
        if let Some(source) = &config.plugin {
            let swapper = Swapper::new(plugins, Arc::clone(&pipeline), Arc::clone(&metrics));
            tasks.extend(follow_plugin(config, source, &artifact, swapper)?);
        }
        let from_cluster = cluster.is_some();
        let (feed, fleet) = start_feed(config, cluster, &intake, pipeline, (&switch, shutdown));
        let cluster = if from_cluster {
            Some(feed)
        } else {
            tasks.push(feed);
            None
        };
        let state = Arc::new(AppState {
            intake,
            fleet,
            webhook: config.webhook,
            cluster: health,
            outbox: Some(Arc::clone(&outbox)),
            switch,
            metrics,
            health: Health {
                worker_alive: alive,
                stopping: AtomicBool::new(false),
            },
        });
        Ok(Self {
            state,
            tasks,
            cluster,
            worker: Some(worker),
            final_flush: Some(final_flush),
        })
    }
}

/// Follows the runtime opt-out sources, each handing what it says to the
/// switch: the config file, and Kamaji's controller.
fn follow_opt_outs(
    config: &AgentConfig,
    config_file: Option<RuntimeOptOut>,
    cluster: Option<&ClusterParts>,
    (switch, metrics): (&Arc<Switch>, &Arc<Metrics>),
) -> Result<Vec<JoinHandle<()>>, AgentError> {
    let mut tasks = Vec::new();
    if let Some(file) = config_file {
        let (changes, follower) = file.follow(Arc::clone(switch), Arc::clone(metrics));
        tasks.push(tokio::spawn(watch::follow(
            changes,
            config.watch_interval,
            hangup()?,
            async move |bytes| follower.apply(&bytes),
        )));
    }
    if let Some(parts) = cluster
        && let Some(deployment) = &parts.settings.kamaji_deployment
    {
        tasks.push(tokio::spawn(cluster_side::follow_kamaji(
            parts.client.clone(),
            deployment.clone(),
            Arc::clone(switch),
        )));
    }
    Ok(tasks)
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
    (switch, shutdown): (&Switch, ShutdownSignal),
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
                tokio::spawn(cluster_side::run(side, switch.changes(), shutdown)),
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
fn outbox(config: &AgentConfig) -> Result<(Outbox, FinalFlush), AgentError> {
    match &config.local {
        Some(local) => {
            let recorder = LocalRecorder::open(&local.dir, local.budget_bytes)?;
            tracing::info!(dir = %local.dir.display(), "local mode: payloads are recorded, none is sent");
            Ok(Outbox::local(recorder))
        }
        None => {
            let transport = Arc::new(Transport::new(config.transport.clone())?);
            Ok(Outbox::start(
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
