//! Host-side bindings for the plugin contract, generated from the frozen WIT.

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "telemetry-plugin",
});

pub use kamaji::telemetry::types::*;
