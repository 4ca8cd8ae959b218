//! The component's exports: a thin shim over the native API, so that what runs
//! in the sandbox is exactly what the native tests exercise.

use crate::bindings::exports::kamaji::telemetry::plugin::Guest;
use crate::{Description, Event, Installation, Payload, PluginError};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Description {
        crate::describe()
    }

    fn handle_batch(
        installation: Installation,
        events: Vec<Event>,
    ) -> Vec<Result<Option<Payload>, PluginError>> {
        crate::handle_batch(&installation, &events)
    }
}

crate::bindings::export!(Plugin);
