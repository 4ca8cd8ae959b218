//! Replacing the running plugin without a restart.
//!
//! A candidate is vetted ([`vet`]) on a blocking thread while the plugin
//! worker keeps building events with the old plugin; only a candidate that
//! passes is swapped in, in one atomic pointer swap (see [`Pipeline::swap`]).
//! A candidate that fails keeps the old plugin running.

use std::sync::Arc;

use super::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::plugin::{PluginArtifact, PluginRuntime, vet};

/// Swaps vetted candidates into the pipeline, and accounts for every attempt.
pub struct Swapper {
    runtime: Arc<PluginRuntime>,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
}

impl Swapper {
    pub fn new(
        runtime: Arc<PluginRuntime>,
        pipeline: Arc<Pipeline>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            runtime,
            pipeline,
            metrics,
        }
    }

    /// Vets the plugin on a blocking thread (compiling takes a while, and
    /// the plugin worker keeps building events with the old plugin
    /// meanwhile), then swaps it in if it passed; says whether it did.
    pub async fn try_swap(&self, artifact: PluginArtifact) -> bool {
        let runtime = Arc::clone(&self.runtime);
        let origin = artifact.origin.clone();
        let vetted = tokio::task::spawn_blocking(move || vet(&runtime, &artifact).accepted()).await;
        match vetted {
            Ok(Ok(plugin)) => {
                let info = plugin.info();
                self.pipeline.swap(Arc::new(plugin));
                self.metrics.swap(true);
                tracing::info!(plugin = %origin, "swapped in the plugin {info}");
                true
            }
            Ok(Err(refusal)) => {
                self.refused(&origin, &refusal);
                false
            }
            Err(crash) => {
                self.metrics.swap(false);
                tracing::error!(
                    plugin = %origin,
                    "the check of the new plugin crashed, the running one stays: {crash}"
                );
                false
            }
        }
    }

    /// Counts and logs a candidate refused before or during its vetting.
    pub fn refused(&self, origin: &str, refusal: &dyn std::fmt::Display) {
        self.metrics.swap(false);
        tracing::error!(
            plugin = %origin,
            "refused the new plugin, the running one stays: {refusal}"
        );
    }
}
