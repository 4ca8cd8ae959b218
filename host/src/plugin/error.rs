//! Why a plugin could not be loaded, and why one call into it failed.

use std::time::Duration;

use super::contract_version::{ContractVersion, PLUGIN_INTERFACE};
use crate::model::PluginError;

/// Why a plugin could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error("could not set up the WebAssembly engine: {0}")]
    Engine(String),
    #[error("not a WebAssembly component: the file is neither binary WebAssembly nor WAT text")]
    NotWasm,
    #[error("a core WebAssembly module, not a component: wrap it with `wasm-tools component new`")]
    CoreModule,
    #[error("invalid component: {0}")]
    Invalid(String),
    #[error(
        "a component of another world: it exports [{exports}], not `{PLUGIN_INTERFACE}` of any version this host speaks ({})",
        ContractVersion::supported_list()
    )]
    WrongWorld { exports: String },
    #[error(
        "incompatible contract: the plugin exports `{PLUGIN_INTERFACE}` version {found}; this host speaks versions {}",
        ContractVersion::supported_list()
    )]
    IncompatibleContract { found: String },
    #[error(
        "ambiguous contract: the plugin exports `{PLUGIN_INTERFACE}` in versions {found}, which this host all speaks; a plugin must implement exactly one"
    )]
    AmbiguousContract { found: String },
    #[error("the plugin does not match contract {PLUGIN_INTERFACE}@{version}: {message}")]
    Mismatch {
        version: ContractVersion,
        message: String,
    },
    #[error("the plugin could not describe itself: {0}")]
    Describe(#[source] CallError),
}

impl LoadError {
    pub(crate) fn engine(error: impl std::fmt::Display) -> Self {
        Self::Engine(format!("{error:#}"))
    }
}

pub(crate) fn invalid(error: wasmtime::Error) -> LoadError {
    LoadError::Invalid(format!("{error:#}"))
}

/// Why a call into a plugin failed, for one event.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("the plugin ran past its deadline of {0:?} and was stopped")]
    Timeout(Duration),
    #[error("the plugin tried to grow its memory past the cap of {cap} bytes")]
    MemoryCap { cap: usize },
    #[error("the plugin returned {size} bytes, more than the cap of {cap}")]
    OutputTooLarge { size: usize, cap: usize },
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin could not be instantiated: {0}")]
    Instantiate(String),
    #[error("the plugin refused the event: {0}")]
    Refused(PluginError),
    #[error("the plugin gave {found} answers to a batch of {expected} events")]
    AnswerCount { expected: usize, found: usize },
}
