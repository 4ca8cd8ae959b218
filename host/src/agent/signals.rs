//! The signals the agent obeys: SIGTERM and SIGINT begin shutdown, which
//! [`ShutdownSignal`] passes on to the agent's tasks with its deadline; SIGHUP reads
//! the followed files again.

use std::future::Future;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch as state;
use tokio::time::Instant;

use super::failure::AgentError;

/// Tells the agent's tasks (the plugin worker, the cluster side) that
/// shutdown has begun, and its deadline.
#[derive(Debug, Clone)]
pub struct ShutdownSignal(state::Receiver<Option<Instant>>);

impl ShutdownSignal {
    /// The sender that begins shutdown with its deadline, and what tells it.
    pub fn channel() -> (state::Sender<Option<Instant>>, Self) {
        let (begin, begun) = state::channel(None);
        (begin, Self(begun))
    }

    /// The shutdown deadline, once shutdown begins.
    pub async fn wait(&mut self) -> Instant {
        match self.0.wait_for(Option::is_some).await {
            Ok(deadline) => deadline.unwrap_or_else(Instant::now),
            // The agent is gone: stop now.
            Err(_) => Instant::now(),
        }
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

/// A SIGHUP handler: each task that reads a file again on SIGHUP has its own.
pub fn hangup() -> Result<Signal, AgentError> {
    signal(SignalKind::hangup()).map_err(AgentError::Signal)
}
