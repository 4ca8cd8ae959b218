//! kamaji-telemetry: runs a telemetry plugin in a WebAssembly sandbox, feeds it
//! events decoded from Kubernetes objects, and delivers what it builds.

pub mod agent;
pub mod cluster;
pub mod kube;
pub mod leak_guard;
pub mod local_mode;
pub mod optout;
pub mod payload_line;
pub mod pipeline;
pub mod plugin;
pub mod transport;
