//! A plugin's answers once the host's leak guard has seen them: whatever
//! plugin is loaded, a body that carries an identifying input string is
//! blocked here, before anything else sees it.

use crate::leak_guard::{self, BatchInputs, Leak};
use crate::model::Payload;

use super::error::CallError;
use super::loaded::{BatchRun, Plugin};

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

/// What a batch's answers become once the leak guard has seen them: each body
/// is checked against what the plugin was shown of every event of the batch.
pub fn guard(plugin: &Plugin, run: BatchRun) -> Vec<Outcome> {
    let BatchRun { shown, answers, .. } = run;
    let declared = plugin.declared_words();
    // A batch of one (a heartbeat's whole fleet, say) is searched as it
    // stands; a larger one has its strings gathered once for all its bodies.
    let gathered = (answers.len() > 1).then(|| BatchInputs::of(&shown.events, &shown.installation));
    let find_leak = |body: &str| match &gathered {
        Some(inputs) => inputs.find_leak(declared, body),
        None => leak_guard::find_leak(declared, &shown.events, &shown.installation, body),
    };
    answers
        .into_iter()
        .map(|answer| match answer {
            Err(error) => Outcome::Failed(error),
            Ok(None) => Outcome::Nothing,
            Ok(Some(payload)) => match find_leak(&payload.body) {
                Some(leak) => Outcome::Blocked(leak),
                None => Outcome::Ready(payload),
            },
        })
        .collect()
}
