//! kamaji-telemetry: runs a telemetry plugin in a WebAssembly sandbox, feeds it
//! events decoded from Kubernetes objects, and delivers what it builds.

pub mod agent;
pub mod cluster;
pub mod kube;
pub mod leak_guard;
pub mod optout;
pub mod pipeline;
pub mod plugin;
pub mod transport;
