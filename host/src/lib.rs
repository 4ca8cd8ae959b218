//! kamaji-telemetry: runs a telemetry plugin in a WebAssembly sandbox, feeds it
//! events decoded from Kubernetes objects, and delivers what it builds.

pub mod agent;
pub mod cluster;
pub mod optout;
pub mod pipeline;
pub mod plugin;
pub mod transport;

// The model, the decoder and the leak guard do no I/O; they live in their own
// crate so that the browser page runs them too.
pub use kamaji_telemetry_core::{kube, leak_guard, model, payload_line, withhold};
