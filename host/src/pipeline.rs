//! From an event to a payload that is safe to send: the plugin builds it in
//! its sandbox, then the host's leak guard checks it, whatever plugin is loaded.
//!
//! The plugin can be replaced while events flow (`serve` swaps it when its
//! file changes). Each event takes one snapshot of the current plugin and is
//! built entirely by it, so a swap can never mix two plugins in one payload.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::leak_guard::{self, Leak};
use crate::plugin::bindings::{Event, Installation, Payload};
use crate::plugin::{CallError, Plugin};

/// What became of one event.
#[derive(Debug)]
pub enum Outcome {
    /// A payload that passed the leak guard.
    Ready(Payload),
    /// The plugin had nothing to send for this event.
    Nothing,
    /// The plugin built a payload that carries an identifying input string.
    Blocked(Leak),
    /// The plugin failed on this event (trap, deadline, cap, refusal).
    Failed(CallError),
}

/// Runs events through the current plugin and the leak guard.
pub struct Pipeline {
    plugin: ArcSwap<Plugin>,
    /// Swappable: in a cluster, the Kubernetes version is read again at
    /// every heartbeat.
    installation: ArcSwap<Installation>,
}

impl Pipeline {
    pub fn new(plugin: Plugin, installation: Installation) -> Self {
        Self {
            plugin: ArcSwap::from_pointee(plugin),
            installation: ArcSwap::from_pointee(installation),
        }
    }

    /// The plugin that builds the events starting now.
    pub fn plugin(&self) -> Arc<Plugin> {
        self.plugin.load_full()
    }

    /// Makes `plugin` build every event that starts after this returns.
    /// Events already being built finish with the plugin they started with,
    /// which is returned.
    pub fn swap(&self, plugin: Arc<Plugin>) -> Arc<Plugin> {
        self.plugin.swap(plugin)
    }

    /// The installation that events starting now are built for.
    pub fn set_installation(&self, installation: Installation) {
        self.installation.store(Arc::new(installation));
    }

    pub fn process(&self, event: &Event) -> Outcome {
        run(&self.plugin(), &self.installation.load(), event)
    }
}

/// One event through a given plugin and the leak guard: what [`Pipeline::process`]
/// does with the current plugin, and what a candidate plugin is tested with.
pub fn run(plugin: &Plugin, installation: &Installation, event: &Event) -> Outcome {
    guard(
        plugin,
        event,
        installation,
        plugin.handle(installation, event),
    )
}

/// What `plugin`'s answer to `event` becomes once the leak guard has seen it.
pub fn guard(
    plugin: &Plugin,
    event: &Event,
    installation: &Installation,
    answer: Result<Option<Payload>, CallError>,
) -> Outcome {
    match answer {
        Err(error) => Outcome::Failed(error),
        Ok(None) => Outcome::Nothing,
        Ok(Some(payload)) => {
            match leak_guard::find_leak(plugin.declared_words(), event, installation, &payload.body)
            {
                Some(leak) => Outcome::Blocked(leak),
                None => Outcome::Ready(payload),
            }
        }
    }
}
