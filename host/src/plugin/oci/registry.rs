//! The client for the registries plugins come from: resolving, pulling
//! (through the store of what was pulled) and pushing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use oci_client::{Client, Reference};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::auth::{AuthError, Credentials};
use super::manifest::{ComponentSummary, artifact, wasm_layer};
use super::store::{Pulled, PulledStore};
use crate::plugin::artifact::{OCI_SCHEME, PluginArtifact};

const USER_AGENT: &str = concat!("kamaji-telemetry/", env!("CARGO_PKG_VERSION"));

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// A Docker `config.json` whose `auths` hold the credentials.
    pub auth_file: Option<PathBuf>,
    /// A PEM CA certificate to trust besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Registries (`HOST[:PORT]`) spoken to in plain HTTP.
    pub insecure: Vec<String>,
    /// Where pulled plugins are kept; `None` keeps nothing.
    pub cache_dir: Option<PathBuf>,
}

/// Why a plugin could not be pulled or pushed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot use the registry CA {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("{OCI_SCHEME}{reference}: {source}{}", unauthorized_hint(source))]
    Registry {
        reference: String,
        source: OciDistributionError,
    },
    #[error("{OCI_SCHEME}{reference} is not a WebAssembly plugin: {reason}")]
    NotAPlugin { reference: String, reason: String },
    #[error("cannot set up the registry client: {0}")]
    Client(OciDistributionError),
    #[error("cannot encode the artifact's config: {0}")]
    Config(serde_json::Error),
}

impl OciError {
    /// The registry could not be reached at all (as opposed to answering no).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Registry {
                source: OciDistributionError::RequestError(error),
                ..
            } if error.is_connect() || error.is_timeout()
        )
    }
}

/// The registry said 401, in any of the shapes the client reports it.
fn unauthorized_hint(error: &OciDistributionError) -> &'static str {
    let unauthorized = match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::ServerError { code: 401, .. } => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|error| error.code == OciErrorCode::Unauthorized),
        _ => false,
    };
    if unauthorized {
        " (the registry wants a login: give its credentials with --registry-auth)"
    } else {
        ""
    }
}

/// A client for the registries plugins come from, with the cache of what
/// was pulled.
pub struct Registry {
    client: Client,
    credentials: Credentials,
    store: Option<PulledStore>,
}

impl Registry {
    pub fn new(options: &RegistryOptions) -> Result<Self, OciError> {
        let credentials = match &options.auth_file {
            Some(path) => Credentials::read(path)?,
            None => Credentials::default(),
        };
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(options.insecure.clone()),
            extra_root_certificates: extra_roots(options.ca_file.as_deref())?,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(30)),
            user_agent: USER_AGENT,
            // A plugin is one component, never a multi-platform index.
            platform_resolver: None,
            ..ClientConfig::default()
        };
        // Not Client::new: on an error it quietly falls back to a default
        // client, which would drop the CA and the plain-HTTP exceptions.
        let client = Client::try_from(config).map_err(OciError::Client)?;
        Ok(Self {
            client,
            credentials,
            store: options.cache_dir.clone().map(PulledStore::new),
        })
    }

    /// The digest `reference` points to now, from the registry (a HEAD request).
    pub async fn resolve(&self, reference: &Reference) -> Result<String, OciError> {
        self.client
            .fetch_manifest_digest(reference, &self.credentials.for_reference(reference))
            .await
            .map_err(|source| registry_error(reference, source))
    }

    /// The plugin `reference` names. A digest pin is served from the cache
    /// when it is there (it is verified, and immutable). A tag goes to the
    /// registry; when the registry cannot be reached, the last digest the tag
    /// resolved to is used, with a warning.
    pub async fn fetch(&self, reference: &Reference) -> Result<PluginArtifact, OciError> {
        if let Some(pulled) = self.cached(reference) {
            tracing::info!(plugin = %reference, digest = %pulled.digest, "plugin found in the cache of pulled plugins");
            return Ok(pulled.into_artifact(reference));
        }
        match self.pull(reference).await {
            Ok(pulled) => Ok(pulled.into_artifact(reference)),
            Err(error) if error.is_unreachable() && reference.digest().is_none() => {
                match self.last_resolved(reference) {
                    Some(pulled) => {
                        tracing::warn!(
                            plugin = %reference,
                            digest = %pulled.digest,
                            "the registry cannot be reached, using the digest this tag last resolved to: {error}"
                        );
                        Ok(pulled.into_artifact(reference))
                    }
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Pulls `reference` from the registry, verifies it, and caches it.
    pub async fn pull(&self, reference: &Reference) -> Result<Pulled, OciError> {
        let auth = self.credentials.for_reference(reference);
        let (manifest_bytes, digest) = self
            .client
            .pull_manifest_raw(reference, &auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .map_err(|source| registry_error(reference, source))?;
        let layer = wasm_layer(&manifest_bytes).map_err(|reason| OciError::NotAPlugin {
            reference: reference.to_string(),
            reason,
        })?;
        let mut bytes = Vec::new();
        // Verifies the layer against its digest in the manifest.
        self.client
            .pull_blob(reference, &layer, &mut bytes)
            .await
            .map_err(|source| registry_error(reference, source))?;
        tracing::info!(plugin = %reference, %digest, "pulled the plugin");
        if let Some(store) = &self.store {
            store.keep(reference, &digest, &manifest_bytes, &bytes);
        }
        Ok(Pulled { bytes, digest })
    }

    /// Publishes `component` under `reference`; returns the manifest digest.
    pub async fn push(
        &self,
        reference: &Reference,
        component: Vec<u8>,
        summary: ComponentSummary,
    ) -> Result<String, OciError> {
        let (layer, config, manifest) = artifact(component, summary).map_err(OciError::Config)?;
        let auth = self.credentials.for_reference(reference);
        self.client
            .push(reference, &[layer], config, &auth, Some(manifest))
            .await
            .map_err(|source| registry_error(reference, source))?;
        self.resolve(reference).await
    }

    /// Records that the tag of `reference` resolved to `digest`: the digest
    /// to fall back to when the registry cannot be reached.
    pub fn remember(&self, reference: &Reference, digest: &str) {
        if let Some(store) = &self.store
            && let Err(error) = store.remember(reference, digest)
        {
            tracing::warn!(dir = %store.dir.display(), "cannot record the tag's digest: {error}");
        }
    }

    fn cached(&self, reference: &Reference) -> Option<Pulled> {
        self.store.as_ref()?.pulled(reference.digest()?)
    }

    fn last_resolved(&self, reference: &Reference) -> Option<Pulled> {
        let store = self.store.as_ref()?;
        store.pulled(&store.resolved(reference)?)
    }
}

fn registry_error(reference: &Reference, source: OciDistributionError) -> OciError {
    OciError::Registry {
        reference: reference.to_string(),
        source,
    }
}

/// Every certificate of a PEM bundle, as DER. Parsed here: reqwest takes
/// only the first certificate of a PEM, and ignores one it cannot parse.
fn extra_roots(ca_file: Option<&Path>) -> Result<Vec<Certificate>, OciError> {
    let Some(path) = ca_file else {
        return Ok(Vec::new());
    };
    let ca_error = |reason: String| OciError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .map(|certificate| {
            certificate.map(|der| Certificate {
                encoding: CertificateEncoding::Der,
                data: der.to_vec(),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ca_error(error.to_string()))?;
    if certificates.is_empty() {
        return Err(ca_error("no PEM certificate in it".to_owned()));
    }
    Ok(certificates)
}
