//! From an event to a payload that is safe to send: the plugin builds it in
//! its sandbox, then the host's leak guard checks it, whatever plugin is loaded.

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

/// Runs events through a plugin and the leak guard.
pub struct Pipeline {
    plugin: Plugin,
    installation: Installation,
}

impl Pipeline {
    pub fn new(plugin: Plugin, installation: Installation) -> Self {
        Self { plugin, installation }
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub fn process(&self, event: &Event) -> Outcome {
        match self.plugin.handle(&self.installation, event) {
            Err(error) => Outcome::Failed(error),
            Ok(None) => Outcome::Nothing,
            Ok(Some(payload)) => match leak_guard::find_leak(event, &self.installation, &payload.body) {
                Some(leak) => Outcome::Blocked(leak),
                None => Outcome::Ready(payload),
            },
        }
    }
}
