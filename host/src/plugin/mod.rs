//! Loading and sandboxing telemetry plugins.
//!
//! A plugin is a WebAssembly component of the `telemetry-plugin` world. The
//! host compiles it once (or loads it precompiled from a cache), checks it
//! against the contract, and then runs every call in a fresh store with a
//! deadline, a memory cap and an output cap, so that one bad call can neither
//! hang the host nor leak state into the next call. Whatever it answers goes
//! through the leak guard ([`guard`]) before anything else sees it, and a
//! plugin is vetted ([`vet`]) before `serve` takes it.

mod cache;
pub mod contract;
mod guarded;
mod load;
pub mod oci;
mod runtime;
mod sandbox;
pub mod source;
mod vet;

pub use cache::PrecompiledCache;
pub use contract::ContractVersion;
pub use guarded::{Outcome, guard};
pub use load::{ImportStatus, LoadError};
pub use runtime::{InstanceAllocation, PluginRuntime};
pub use sandbox::{BatchRun, CallError, CallStats, Plugin, PluginInfo, SandboxLimits};
pub use source::{PluginArtifact, PluginSource};
pub use vet::{Refusal, SelfTestCall, SelfTestFailure, SelfTested, Vetting, vet};

/// The default plugin, built from `guest/` by cargo and embedded at build time.
pub const DEFAULT_PLUGIN: &[u8] = kamaji_telemetry_plugin_component::COMPONENT;
