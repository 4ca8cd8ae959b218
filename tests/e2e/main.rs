//! The end-to-end tests, as one binary of the host's package (`[[test]]
//! e2e` in host/Cargo.toml), so that cargo builds the `kamaji-telemetry`
//! binary before them and they run that very binary, never a stale one.
//! Their helpers are the `kamaji-telemetry-e2e` crate (tests/support).

use std::path::Path;
use std::process::Command;

mod chart;
mod cli_check;
mod cli_optout;
mod cli_preview;
mod cli_send;
mod cluster;
mod examples;
mod manifests;
mod oci;
mod plugin_imports;
mod plugin_versions;
mod plugin_wasmtime_cli;
mod serve;
mod soak;

/// A command for the binary cargo built for these tests, in a clean
/// environment (see `kamaji_telemetry_e2e::host::command_for`).
pub fn host_command() -> Command {
    kamaji_telemetry_e2e::host::command_for(Path::new(env!("CARGO_BIN_EXE_kamaji-telemetry")))
}
