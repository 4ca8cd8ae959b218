//! A plugin's bytes, and which exact artefact they are.

/// What marks a registry reference where a path is also accepted.
pub const OCI_SCHEME: &str = "oci://";

/// The default plugin, built from `guest/` by cargo and embedded at build time.
pub const DEFAULT_PLUGIN: &[u8] = kamaji_telemetry_plugin_component::COMPONENT;

/// A plugin's bytes, and which exact artefact they are.
#[derive(Debug, Clone)]
pub struct PluginArtifact {
    pub bytes: Vec<u8>,
    /// The path, or the reference pinned to the digest it resolved to.
    pub origin: String,
    /// The OCI manifest digest (`sha256:…`), when it came from a registry.
    pub oci_digest: Option<String>,
}

impl PluginArtifact {
    /// The default plugin, embedded in the binary.
    pub fn embedded() -> Self {
        Self {
            bytes: DEFAULT_PLUGIN.to_vec(),
            origin: "embedded in the binary".to_owned(),
            oci_digest: None,
        }
    }

    /// A plugin read from `path`.
    pub fn file(path: &std::path::Path, bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            origin: path.display().to_string(),
            oci_digest: None,
        }
    }
}
