//! The part of kamaji-telemetry that does no I/O: the host's model, the
//! decoding of Kubernetes objects into events, what a plugin is shown of them,
//! the leak guard, and the JSON line a payload is printed as.
//!
//! The host builds on it, and the browser preview page runs the very same
//! code compiled to WebAssembly, so no rule exists twice.

mod classified;
pub mod kube;
pub mod leak_guard;
pub mod model;
pub mod payload_line;
pub mod withhold;
