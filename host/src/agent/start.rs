//! A started agent: its parts running, its listener bound; then serving
//! until shutdown, and shutting down within the timeout.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use tokio::signal::unix::Signal;
use tokio::sync::watch as state;
use tokio::time::Instant;

use super::config::AgentConfig;
use super::failure::AgentError;
use super::parts::Parts;
use super::server::{follow_tls, serve_http, server_failure, tls_config};
use super::signals::{ShutdownSignal, hangup};
use super::webhook;
use crate::plugin::PluginRuntime;
use crate::transport::FlushReport;

/// What shutdown left behind.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShutdownReport {
    /// Events still waiting for the plugin at the deadline.
    pub events_abandoned: u64,
    /// The delivery queue's final account; `None` when telemetry was off for good.
    pub flush: Option<FlushReport>,
}

/// A started agent: listening, not yet serving. See [`Agent::serve`].
pub struct Agent {
    listener: TcpListener,
    address: SocketAddr,
    tls: Option<RustlsConfig>,
    /// Begins shutdown, with its deadline, for the tasks told by [`ShutdownSignal`].
    begin_shutdown: state::Sender<Option<Instant>>,
    parts: Parts,
    shutdown_timeout: Duration,
    /// Keeps a SIGHUP handler installed for the agent's whole life, so that a
    /// SIGHUP never terminates it, even with no file to read again.
    _hangup: Signal,
}

impl Agent {
    /// Loads and self-tests the plugin, starts the worker, the heartbeat and
    /// the file followers, and binds the listener. Must run within a Tokio
    /// runtime.
    pub async fn start(config: AgentConfig, plugins: PluginRuntime) -> Result<Self, AgentError> {
        let tls = tls_config(&config).await?;
        let hangup = hangup()?;
        let (begin_shutdown, shutdown) = ShutdownSignal::channel();
        let mut parts = match &config.opt_out {
            Some(source) => Parts::off(&config, source),
            None => Parts::on(&config, plugins, shutdown).await?,
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
            begin_shutdown,
            parts,
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
        let parts = self.parts;
        let app = webhook::router(Arc::clone(&parts.state));
        let mut server = tokio::spawn(serve_http(self.listener, self.tls, app, http.clone()));
        tracing::info!(address = %self.address, "serving");
        tokio::select! {
            () = shutdown => {}
            ended = &mut server => return Err(server_failure(ended)),
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        tracing::info!(timeout = ?self.shutdown_timeout, "shutting down: intake stops, the queue is flushed");
        parts.state.health.stopping.store(true, Ordering::Relaxed);
        http.graceful_shutdown(Some(self.shutdown_timeout));
        for task in &parts.tasks {
            task.abort();
        }
        self.begin_shutdown.send_replace(Some(deadline));
        // Awaited, so that a leader gives up its Lease before the process ends.
        if let Some(cluster) = parts.cluster
            && tokio::time::timeout_at(deadline, cluster).await.is_err()
        {
            tracing::warn!("the cluster side did not stop by the deadline");
        }
        if tokio::time::timeout_at(deadline, server).await.is_err() {
            tracing::warn!("webhook connections still open at the deadline were cut");
        }
        let events_abandoned = match parts.worker {
            // A crashed worker must not keep the built payloads from their flush.
            Some(worker) => worker.await.unwrap_or_else(|crash| {
                tracing::error!("the plugin worker crashed: {crash}");
                0
            }),
            None => 0,
        };
        let flush = match parts.final_flush {
            Some(final_flush) => Some(final_flush.run(deadline).await),
            None => None,
        };
        Ok(ShutdownReport {
            events_abandoned,
            flush,
        })
    }
}
