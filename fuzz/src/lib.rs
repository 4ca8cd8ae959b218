//! What the fuzz targets check, as plain functions.
//!
//! Each target in `fuzz/fuzz_targets/` is one call into this crate, so that
//! libFuzzer (`make fuzz`) and `cargo test` (`make test`, which replays every
//! input kept in `fuzz/regressions/`) run exactly the same checks. A check
//! panics when a property fails; libFuzzer keeps the input that made it.
//!
//! - [`kube_decode`]: arbitrary bytes through the Kubernetes decoder.
//! - [`versions`]: arbitrary text through the version normalisers.
//! - [`pipeline`]: an arbitrary [`Case`] (an installation and an event whose
//!   strings are adversarial) as Kubernetes JSON, through the decoder, the
//!   default plugin and the leak guard.
//! - [`leak_guard`]: a body that copies the case's strings in disguise (case,
//!   escapes, keys, nesting, embedding), through the leak guard and its
//!   naive reading ([`copied_input`]), which must agree.

mod checks;
mod contract;
mod kube_json;
mod model;
mod oracle;

pub use checks::{default_plugin_words, kube_decode, leak_guard, pipeline, versions};
pub use contract::host;
pub use kube_json::kube_json;
pub use model::{
    Case, CopyingBody, DataStoreModel, Disguised, EventModel, InstallationModel, OwnerModel, Part,
    TcpModel, Text, words,
};
pub use oracle::{CaseStrings, copied_input, declared_words, unexpected_body_string};
