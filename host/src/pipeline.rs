//! From an event to a payload that is safe to send: the plugin builds it in
//! its sandbox, then the host's leak guard checks it, whatever plugin is loaded.
//!
//! Events go to the plugin in batches, one fresh instance per batch; the leak
//! guard checks every body of a batch against every event of it.
//!
//! The plugin can be replaced while events flow (`serve` swaps it when its
//! file changes). Each batch takes one snapshot of the current plugin and is
//! built entirely by it, so a swap can never mix two plugins in one payload.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch as state;

use crate::model::{Event, InputFields, Installation};
use crate::plugin::{Outcome, Plugin, guard};

/// Runs events through the current plugin and the leak guard.
pub struct Pipeline {
    plugin: ArcSwap<Plugin>,
    /// Swappable: in a cluster, the Kubernetes version is read again at
    /// every heartbeat.
    installation: ArcSwap<Installation>,
    /// What the current plugin reads, for those who keep inputs for it
    /// (the cluster's stores): told of every swap.
    reads: state::Sender<InputFields>,
}

impl Pipeline {
    pub fn new(plugin: Plugin, installation: Installation) -> Self {
        let reads = state::Sender::new(plugin.description().reads);
        Self {
            plugin: ArcSwap::from_pointee(plugin),
            installation: ArcSwap::from_pointee(installation),
            reads,
        }
    }

    /// What the current plugin reads, and each change of it.
    pub fn reads(&self) -> state::Receiver<InputFields> {
        self.reads.subscribe()
    }

    /// The plugin that builds the events starting now.
    pub fn plugin(&self) -> Arc<Plugin> {
        self.plugin.load_full()
    }

    /// Makes `plugin` build every event that starts after this returns.
    /// Events already being built finish with the plugin they started with,
    /// which is returned.
    pub fn swap(&self, plugin: Arc<Plugin>) -> Arc<Plugin> {
        let reads = plugin.description().reads;
        let previous = self.plugin.swap(plugin);
        self.reads
            .send_if_modified(|current| std::mem::replace(current, reads) != reads);
        previous
    }

    /// The installation that events starting now are built for.
    pub fn set_installation(&self, installation: Installation) {
        self.installation.store(Arc::new(installation));
    }

    /// One event through the current plugin and the leak guard.
    pub fn process(&self, event: Event) -> Outcome {
        run(&self.plugin(), &self.installation.load(), event)
    }

    /// Events through the current plugin and the leak guard, in batches of at
    /// most [`MAX_BATCH`]: one outcome per event, in order. The whole of one
    /// batch is built by one plugin.
    pub fn process_batch(&self, events: Vec<Event>) -> Vec<Outcome> {
        run_batch(&self.plugin(), &self.installation.load(), events)
    }
}

/// The most events handed to a plugin in one call. A batch shares one
/// instance, so this bounds how much input one instance holds and how long
/// one call runs (a create event takes microseconds; the deadline is seconds).
pub const MAX_BATCH: usize = 256;

/// One event through a given plugin and the leak guard: a batch of one.
pub fn run(plugin: &Plugin, installation: &Installation, event: Event) -> Outcome {
    let run = plugin.handle_batch(installation, vec![event]);
    let mut outcomes = guard(plugin, run);
    outcomes.pop().expect("one outcome per event")
}

/// Events through a given plugin and the leak guard, [`MAX_BATCH`] at a time.
pub fn run_batch(plugin: &Plugin, installation: &Installation, events: Vec<Event>) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(events.len());
    let mut events = events.into_iter();
    loop {
        let batch: Vec<Event> = events.by_ref().take(MAX_BATCH).collect();
        if batch.is_empty() {
            return outcomes;
        }
        outcomes.extend(guard(plugin, plugin.handle_batch(installation, batch)));
    }
}
