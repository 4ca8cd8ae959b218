//! The default plugin, as the component that cargo built from `guest/`
//! (see `build.rs`): what the host embeds, and `make plugin` writes out.

/// The component's bytes.
pub const COMPONENT: &[u8] = include_bytes!(env!("KAMAJI_TELEMETRY_PLUGIN_COMPONENT"));

/// Where cargo wrote the component: for tests that hand a file to a tool.
/// It is the very file [`COMPONENT`] holds, never a stale copy.
pub const PATH: &str = env!("KAMAJI_TELEMETRY_PLUGIN_COMPONENT");
