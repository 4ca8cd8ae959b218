//! Host-side bindings for each frozen version of the plugin contract.
//!
//! Every released WIT version keeps its own module here, generated from its own
//! frozen folder under `wit/`, so that plugins built against it keep loading
//! after the contract moves on. Today there is one.

/// Bindings for `kamaji:telemetry@0.1.0` (`wit/0.1.0`).
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "telemetry-plugin",
    });
}

/// The contract version this host speaks, as the plugin's export names carry it.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// The interface a plugin must export, without its version.
pub const PLUGIN_INTERFACE: &str = "kamaji:telemetry/plugin";

pub use v0_1_0::kamaji::telemetry::types::*;
pub use v0_1_0::{TelemetryPlugin, TelemetryPluginPre};

impl Route {
    /// The route's path segment: payloads go to `POST <endpoint>/<route>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Stats => "stats",
            Route::Create => "create",
            Route::Update => "update",
            Route::Delete => "delete",
        }
    }
}

impl RedactionAction {
    /// The action's name, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactionAction::Dropped => "dropped",
            RedactionAction::Normalised => "normalised",
            RedactionAction::Pseudonymised => "pseudonymised",
        }
    }
}
