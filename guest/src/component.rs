//! The component's exports: a thin shim over the native API, so that what runs
//! in the sandbox is exactly what the native tests exercise.

use crate::bindings::exports::kamaji::telemetry::plugin::Guest;
use crate::{Description, Event, Installation, Payload};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Description {
        crate::describe()
    }

    fn handle(installation: Installation, event: Event) -> Result<Option<Payload>, String> {
        crate::handle(&installation, &event)
    }
}

crate::bindings::export!(Plugin);
