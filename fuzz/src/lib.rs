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

mod checks;
mod contract;
mod kube_json;
mod model;
mod oracle;

pub use checks::{kube_decode, pipeline, versions};
pub use contract::{guest, host};
pub use kube_json::kube_json;
pub use model::{
    Case, DataStoreModel, EventModel, InstallationModel, OwnerModel, Part, TcpModel, Text, WORDS,
};
pub use oracle::unexpected_body_string;
