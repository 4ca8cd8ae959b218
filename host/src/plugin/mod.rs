//! Loading and sandboxing telemetry plugins.
//!
//! A plugin is a WebAssembly component of the `telemetry-plugin` world. The
//! host compiles it once (or loads it precompiled from a cache), checks it
//! against the contract, and then runs every call in a fresh store with a
//! deadline, a memory cap and an output cap, so that one bad call can neither
//! hang the host nor leak state into the next call. Whatever it answers goes
//! through the leak guard ([`guard`]) before anything else sees it, and a
//! plugin is vetted ([`vet`]) before `serve` takes it.
//!
//! The modules build on each other one way, each using only those before it:
//! `artifact` and `contract_version`, then `error`, `sandbox` (the state of
//! a call's store), `contract`, `cache`, `load`, `epoch`, `loaded` (a
//! [`Plugin`] and its calls), `runtime` (the engine), `guarded`, `vet`.
//! Beside them, `oci` (the registry client) and then `source` use only
//! `artifact`.

mod artifact;
mod cache;
mod contract;
mod contract_version;
mod epoch;
mod error;
mod guarded;
mod load;
mod loaded;
pub mod oci;
mod runtime;
mod sandbox;
pub mod source;
mod vet;

pub use artifact::{DEFAULT_PLUGIN, OCI_SCHEME, PluginArtifact};
pub use cache::PrecompiledCache;
pub use contract_version::{ContractVersion, PLUGIN_INTERFACE};
pub use error::{CallError, LoadError};
pub use guarded::{Outcome, guard};
pub use load::ImportStatus;
pub use loaded::{BatchRun, CallStats, Plugin, PluginInfo};
pub use runtime::{InstanceAllocation, PluginRuntime};
pub use sandbox::SandboxLimits;
pub use source::PluginSource;
pub use vet::{Refusal, SelfTestCall, SelfTestFailure, SelfTested, Vetting, vet};
