//! Plugins shipped like images: pulled from and pushed to an OCI registry.
//!
//! The layout is the CNCF TAG Runtime's for WebAssembly artifacts: an OCI
//! image manifest whose config (`application/vnd.wasm.config.v0+json`) says
//! what the component imports and exports, and one `application/wasm` layer,
//! the component itself. Layers of the older
//! `application/vnd.wasm.content.layer.v1+wasm` type are accepted too.
//!
//! Everything pulled is kept on disk by digest and verified when read again,
//! so that a process restarted while the registry is down still starts: a
//! digest pin from the cache, a tag from the last digest it resolved to.

mod auth;
mod manifest;
mod registry;
mod store;

pub use auth::AuthError;
pub use manifest::{ComponentSummary, LEGACY_WASM_LAYER, WASM_CONFIG, WASM_LAYER};
pub use registry::{OciError, Registry, RegistryOptions};
pub use store::Pulled;
