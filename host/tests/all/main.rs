//! The host library's integration tests, as one binary (wasmtime's
//! `tests/all` layout): each module links wasmtime once, not once per file.

mod common;
mod contract_versions;
mod leak_guard;
mod plugin_variants;
mod sandbox;
mod transport;
