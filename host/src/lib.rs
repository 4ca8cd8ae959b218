//! kamaji-telemetry: runs a telemetry plugin in a WebAssembly sandbox, feeds it
//! events decoded from Kubernetes objects, and delivers what it builds.

pub mod plugin;
