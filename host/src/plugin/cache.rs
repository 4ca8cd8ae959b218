//! A cache of precompiled plugins, so that a process does not compile the
//! same component again on every start.
//!
//! An entry is keyed by the component's SHA-256 and the engine's
//! compatibility hash (wasmtime version and every setting that affects code
//! generation), so a changed plugin or a changed host never loads a stale entry.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::{LoadError, invalid};

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct PrecompiledCache {
    dir: PathBuf,
    /// Loads served from an entry, without compiling: shared by clones.
    hits: Arc<AtomicU64>,
}

impl PrecompiledCache {
    /// A cache in `dir`, created on first write. The directory must be writable
    /// only by the user running the host: its entries are loaded as native code.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            hits: Arc::default(),
        }
    }

    /// How many loads were served from an entry, without compiling.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The per-user default: `$XDG_CACHE_HOME/kamaji-telemetry`, else
    /// `$HOME/.cache/kamaji-telemetry`; `None` when neither is set.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("kamaji-telemetry"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the precompiled entry for `bytes`, or compiles and stores it.
    /// A cache that cannot be read or written only costs a compilation.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        let entry = self.entry_path(engine, bytes);
        if entry.is_file() {
            // SAFETY: entries are written only by `store` below, from
            // `Engine::precompile_component`, into a directory owned by this
            // user; the key pins the engine's compatibility hash.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(error) => {
                    tracing::warn!(entry = %entry.display(), "ignoring an unusable precompiled plugin: {error:#}")
                }
            }
        }
        let precompiled = engine.precompile_component(bytes).map_err(invalid)?;
        if let Err(error) = self.store(&entry, &precompiled) {
            tracing::warn!(dir = %self.dir.display(), "could not cache the precompiled plugin: {error}");
        }
        // SAFETY: `precompiled` was produced just now by this engine.
        unsafe { Component::deserialize(engine, &precompiled) }.map_err(invalid)
    }

    fn entry_path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(bytes));
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{digest}-{:016x}.cwasm", hasher.finish()))
    }

    /// Writes atomically, so that a concurrent reader never sees half an entry.
    fn store(&self, entry: &Path, precompiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let partial = entry.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, precompiled)?;
        std::fs::rename(&partial, entry)
    }
}
