//! Loading and sandboxing telemetry plugins.

pub mod bindings;
