//! Following a registry tag: when it moves to a new digest, the plugin it
//! now names is a swap candidate, checked exactly as a new plugin file is.

use std::time::Duration;

use oci_client::Reference;
use tokio::time::MissedTickBehavior;

use super::swap::Swapper;
use crate::plugin::oci::Registry;

/// A tag, and the digest whose plugin was last tried.
pub struct TagWatch {
    pub registry: Registry,
    pub reference: Reference,
    pub current: String,
}

impl TagWatch {
    /// Asks the registry for the tag's digest every `interval`, until the
    /// task is aborted. A new digest is pulled and offered to `swapper`
    /// once, whether it is swapped in or refused: a refused digest is not
    /// tried again at every poll, only a newer one is. A registry that
    /// cannot be reached, or a pull that fails on the way, is only logged,
    /// and tried again at the next poll.
    pub async fn follow(mut self, interval: Duration, swapper: Swapper) {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.poll(&swapper).await;
        }
    }

    async fn poll(&mut self, swapper: &Swapper) {
        let digest = match self.registry.resolve(&self.reference).await {
            Ok(digest) if digest == self.current => return,
            Ok(digest) => digest,
            Err(error) => {
                tracing::warn!(plugin = %self.reference, "cannot poll the plugin's tag, the running plugin stays: {error}");
                return;
            }
        };
        tracing::info!(plugin = %self.reference, %digest, "the plugin's tag moved to a new digest");
        let pinned = self.reference.clone_with_digest(digest.clone());
        match self.registry.pull(&pinned).await {
            Ok(pulled) => {
                self.current = digest.clone();
                // Only a digest that went in is one to fall back to at a restart.
                if swapper
                    .try_swap(pulled.into_artifact(&self.reference))
                    .await
                {
                    self.registry.remember(&self.reference, &digest);
                }
            }
            Err(error) if error.is_unreachable() => {
                tracing::warn!(plugin = %pinned, "cannot pull the new plugin, trying at the next poll: {error}");
            }
            Err(error) => {
                self.current = digest;
                swapper.refused(&pinned.to_string(), &error);
            }
        }
    }
}
