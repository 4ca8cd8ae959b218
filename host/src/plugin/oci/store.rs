//! What was pulled, kept on disk by digest and verified when read again, so
//! that a process restarted while the registry is down still starts.

use std::io;
use std::path::{Path, PathBuf};

use oci_client::Reference;
use sha2::{Digest, Sha256};

use super::auth::registry_host;
use super::manifest::wasm_layer;
use crate::plugin::artifact::{OCI_SCHEME, PluginArtifact};

/// A plugin pulled from a registry.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The component.
    pub bytes: Vec<u8>,
    /// The manifest digest, `sha256:…`.
    pub digest: String,
}

impl Pulled {
    /// The artifact, named by `reference` pinned to its digest.
    pub fn into_artifact(self, reference: &Reference) -> PluginArtifact {
        let pinned = reference.clone_with_digest(self.digest.clone());
        PluginArtifact {
            bytes: self.bytes,
            origin: format!("{OCI_SCHEME}{pinned}"),
            oci_digest: Some(self.digest),
        }
    }
}

/// Pulled plugins on disk: manifests and layers as content-addressed blobs
/// (`blobs/sha256/<hex>`, checked against their name when read), and the
/// digest each tag last resolved to (`tags/<hash of the reference>`).
#[derive(Debug, Clone)]
pub(super) struct PulledStore {
    pub(super) dir: PathBuf,
}

impl PulledStore {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Keeps a pull, and for a tag the digest it resolved to; a cache that
    /// cannot be written only costs the fallback.
    pub(super) fn keep(&self, reference: &Reference, digest: &str, manifest: &[u8], layer: &[u8]) {
        let kept = self
            .put_blob(manifest)
            .and_then(|()| self.put_blob(layer))
            .and_then(|()| match reference.digest() {
                Some(_) => Ok(()),
                None => self.remember(reference, digest),
            });
        if let Err(error) = kept {
            tracing::warn!(dir = %self.dir.display(), "cannot keep the pulled plugin: {error}");
        }
    }

    /// The plugin of manifest `digest`, if both of its blobs are here intact.
    pub(super) fn pulled(&self, digest: &str) -> Option<Pulled> {
        let manifest = self.blob(digest)?;
        let layer = wasm_layer(&manifest).ok()?;
        let bytes = self.blob(&layer.digest)?;
        Some(Pulled {
            bytes,
            digest: digest.to_owned(),
        })
    }

    /// The digest `reference` (a tag) last resolved to.
    pub(super) fn resolved(&self, reference: &Reference) -> Option<String> {
        let digest = std::fs::read_to_string(self.tag_path(reference)).ok()?;
        Some(digest.trim().to_owned())
    }

    pub(super) fn remember(&self, reference: &Reference, digest: &str) -> io::Result<()> {
        write_atomically(&self.tag_path(reference), digest.as_bytes())
    }

    fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:")?;
        let bytes = std::fs::read(self.blob_path(hex)?).ok()?;
        if hex::encode(Sha256::digest(&bytes)) == hex {
            return Some(bytes);
        }
        tracing::warn!(%digest, "a cached blob does not match its digest; ignoring it");
        None
    }

    fn put_blob(&self, bytes: &[u8]) -> io::Result<()> {
        let hex = hex::encode(Sha256::digest(bytes));
        let path = self
            .blob_path(&hex)
            .ok_or_else(|| io::Error::other("not a sha256 digest"))?;
        write_atomically(&path, bytes)
    }

    /// `None` unless `hex` is a SHA-256 in hex: a digest from a manifest
    /// must never name a path outside the store.
    fn blob_path(&self, hex: &str) -> Option<PathBuf> {
        let is_sha256 = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        is_sha256.then(|| self.dir.join("blobs/sha256").join(hex))
    }

    fn tag_path(&self, reference: &Reference) -> PathBuf {
        let name = format!(
            "{}/{}:{}",
            registry_host(reference.registry()),
            reference.repository(),
            reference.tag().unwrap_or("latest")
        );
        self.dir
            .join("tags")
            .join(hex::encode(Sha256::digest(name.as_bytes())))
    }
}

/// Writes through a temporary file and a rename, so that a reader never
/// sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_blob_is_not_served() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = PulledStore::new(dir.path().to_owned());
        store.put_blob(b"component").expect("write");
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(b"component")));
        assert_eq!(store.blob(&digest).as_deref(), Some(&b"component"[..]));
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(store.blob_path(hex).expect("a path"), b"tampered").expect("write");
        assert_eq!(store.blob(&digest), None);
        assert_eq!(store.blob("sha256:../../etc/passwd"), None);
    }
}
