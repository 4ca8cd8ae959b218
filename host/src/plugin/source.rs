//! Where a plugin comes from: a file, or an OCI registry (`oci://…`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use oci_client::Reference;

use super::artifact::{OCI_SCHEME, PluginArtifact};
use super::oci::{OciError, Registry, RegistryOptions};

/// A plugin file, or a plugin in a registry, as `--plugin` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    File(PathBuf),
    /// `oci://REGISTRY/REPOSITORY:TAG` or `oci://REGISTRY/REPOSITORY@sha256:…`.
    Oci(Reference),
}

/// Why a plugin's bytes could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "`{input}` is not an OCI reference (oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST): {source}"
    )]
    Reference {
        input: String,
        source: oci_client::ParseError,
    },
    #[error("`{input}` is not an OCI reference: it must start with {OCI_SCHEME}")]
    NotOci { input: String },
    #[error("cannot read the plugin {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Oci(#[from] OciError),
}

impl FromStr for PluginSource {
    type Err = SourceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.starts_with(OCI_SCHEME) {
            parse_reference(input).map(Self::Oci)
        } else {
            Ok(Self::File(PathBuf::from(input)))
        }
    }
}

/// Parses `oci://REGISTRY/REPOSITORY(:TAG|@DIGEST)`.
pub fn parse_reference(input: &str) -> Result<Reference, SourceError> {
    let reference = input
        .strip_prefix(OCI_SCHEME)
        .ok_or_else(|| SourceError::NotOci {
            input: input.to_owned(),
        })?;
    reference.parse().map_err(|source| SourceError::Reference {
        input: input.to_owned(),
        source,
    })
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Oci(reference) => write!(f, "{OCI_SCHEME}{reference}"),
        }
    }
}

impl PluginSource {
    /// Reads the file, or fetches the plugin from its registry (through the
    /// cache of pulled plugins; see [`Registry::fetch`]).
    pub async fn fetch(&self, registry: &RegistryOptions) -> Result<PluginArtifact, SourceError> {
        match self {
            Self::File(path) => tokio::fs::read(path)
                .await
                .map(|bytes| PluginArtifact::file(path, bytes))
                .map_err(|source| SourceError::Read {
                    path: path.clone(),
                    source,
                }),
            Self::Oci(reference) => Ok(Registry::new(registry)?.fetch(reference).await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_or_a_reference() {
        assert_eq!(
            "plugins/p.wasm".parse::<PluginSource>().expect("a path"),
            PluginSource::File("plugins/p.wasm".into())
        );
        let Ok(PluginSource::Oci(tagged)) = "oci://127.0.0.1:5000/kamaji/plugin:v1".parse() else {
            panic!("a tag reference");
        };
        assert_eq!(tagged.registry(), "127.0.0.1:5000");
        assert_eq!(tagged.repository(), "kamaji/plugin");
        assert_eq!(tagged.tag(), Some("v1"));
        let digest = format!("sha256:{}", "a".repeat(64));
        let Ok(PluginSource::Oci(pinned)) =
            format!("oci://registry.example/kamaji/plugin@{digest}").parse()
        else {
            panic!("a digest reference");
        };
        assert_eq!(pinned.digest(), Some(digest.as_str()));
        assert!(matches!(
            "oci://UPPER/Case:tag".parse::<PluginSource>(),
            Err(SourceError::Reference { .. })
        ));
    }

    #[test]
    fn a_reference_prints_as_given() {
        let input = "oci://127.0.0.1:5000/kamaji/plugin:v1";
        let source: PluginSource = input.parse().expect("a reference");
        assert_eq!(source.to_string(), input);
    }
}
