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

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use oci_client::client::{
    Certificate, CertificateEncoding, ClientConfig, ClientProtocol, Config, ImageLayer,
};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::source::{OCI_SCHEME, PluginArtifact};

/// The layer media type of a WebAssembly component.
pub const WASM_LAYER: &str = "application/wasm";
/// The layer media type that wasm-to-oci and older tools wrote.
pub const LEGACY_WASM_LAYER: &str = oci_client::manifest::WASM_LAYER_MEDIA_TYPE;
/// The config media type of a WebAssembly artifact.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";

/// Far above any telemetry plugin (the default one is under 150 KiB), and a
/// bound on what a hostile registry can make the host download.
const MAX_PLUGIN_BYTES: i64 = 64 << 20;

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
    #[error("cannot read the registry credentials {}: {source}", path.display())]
    AuthFile { path: PathBuf, source: io::Error },
    #[error("the registry credentials {} are not a Docker config.json: {source}", path.display())]
    AuthFormat {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the credentials for {registry} in {} cannot be decoded: {reason}", path.display())]
    Credential {
        registry: String,
        path: PathBuf,
        reason: String,
    },
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

/// What `plugin push` says about the component, in the config blob.
#[derive(Debug, Clone)]
pub struct ComponentSummary {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    /// The world it targets, with the contract version.
    pub target: String,
    pub author: Option<String>,
}

/// The config blob of a WebAssembly artifact, per the CNCF wasm OCI layout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig {
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    architecture: String,
    os: String,
    layer_digests: Vec<String>,
    component: WasmComponent,
}

#[derive(Debug, Serialize, Deserialize)]
struct WasmComponent {
    exports: Vec<String>,
    imports: Vec<String>,
    target: String,
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
        let layer = ImageLayer::new(component, WASM_LAYER.to_owned(), None);
        let config = WasmConfig {
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            author: summary.author,
            architecture: "wasm".to_owned(),
            os: "wasip2".to_owned(),
            layer_digests: vec![layer.sha256_digest()],
            component: WasmComponent {
                exports: summary.exports,
                imports: summary.imports,
                target: summary.target,
            },
        };
        let config = serde_json::to_vec(&config).map_err(OciError::Config)?;
        let config = Config::new(config, WASM_CONFIG.to_owned(), None);
        let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
        manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
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

/// The one WebAssembly layer of a manifest, if it is a plugin's.
fn wasm_layer(manifest: &[u8]) -> Result<OciDescriptor, String> {
    let manifest: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|error| format!("its manifest is not an OCI image manifest: {error}"))?;
    let media_types: Vec<&str> = manifest
        .layers
        .iter()
        .map(|layer| layer.media_type.as_str())
        .collect();
    let [layer] = manifest.layers.as_slice() else {
        return Err(format!(
            "it has {} layers ({}), where a plugin has one, of type {WASM_LAYER}",
            media_types.len(),
            media_types.join(", ")
        ));
    };
    if layer.media_type != WASM_LAYER && layer.media_type != LEGACY_WASM_LAYER {
        return Err(format!(
            "its layer is of type {}, not {WASM_LAYER}",
            layer.media_type
        ));
    }
    if layer.size > MAX_PLUGIN_BYTES {
        return Err(format!(
            "its layer has {} bytes, more than the {MAX_PLUGIN_BYTES} a plugin may have",
            layer.size
        ));
    }
    Ok(layer.clone())
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

/// The `auths` of a Docker `config.json`, by registry host.
#[derive(Debug, Default)]
struct Credentials(HashMap<String, RegistryAuth>);

#[derive(Debug, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, DockerAuth>,
}

#[derive(Debug, Deserialize)]
struct DockerAuth {
    /// base64 of `user:password`, as `docker login` writes it.
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl Credentials {
    fn read(path: &Path) -> Result<Self, OciError> {
        let text = std::fs::read(path).map_err(|source| OciError::AuthFile {
            path: path.to_owned(),
            source,
        })?;
        let config: DockerConfig =
            serde_json::from_slice(&text).map_err(|source| OciError::AuthFormat {
                path: path.to_owned(),
                source,
            })?;
        let mut credentials = HashMap::new();
        for (key, entry) in config.auths {
            let auth = entry
                .registry_auth()
                .map_err(|reason| OciError::Credential {
                    registry: key.clone(),
                    path: path.to_owned(),
                    reason,
                })?;
            credentials.insert(registry_host(&key), auth);
        }
        Ok(Self(credentials))
    }

    fn for_reference(&self, reference: &Reference) -> RegistryAuth {
        self.0
            .get(&registry_host(reference.registry()))
            .cloned()
            .unwrap_or(RegistryAuth::Anonymous)
    }
}

impl DockerAuth {
    fn registry_auth(self) -> Result<RegistryAuth, String> {
        if let (Some(username), Some(password)) = (self.username, self.password) {
            return Ok(RegistryAuth::Basic(username, password));
        }
        let Some(encoded) = self.auth else {
            return Ok(RegistryAuth::Anonymous);
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|error| format!("`auth` is not base64: {error}"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| "`auth` is not UTF-8 text".to_owned())?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or("`auth` is not `user:password`")?;
        Ok(RegistryAuth::Basic(
            username.to_owned(),
            password.to_owned(),
        ))
    }
}

/// `https://index.docker.io/v1/`, `docker.io` and `index.docker.io` are one
/// registry; config.json keys may carry a scheme and a path.
fn registry_host(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

/// Pulled plugins on disk: manifests and layers as content-addressed blobs
/// (`blobs/sha256/<hex>`, checked against their name when read), and the
/// digest each tag last resolved to (`tags/<hash of the reference>`).
#[derive(Debug, Clone)]
struct PulledStore {
    dir: PathBuf,
}

impl PulledStore {
    fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Keeps a pull, and for a tag the digest it resolved to; a cache that
    /// cannot be written only costs the fallback.
    fn keep(&self, reference: &Reference, digest: &str, manifest: &[u8], layer: &[u8]) {
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
    fn pulled(&self, digest: &str) -> Option<Pulled> {
        let manifest = self.blob(digest)?;
        let layer = wasm_layer(&manifest).ok()?;
        let bytes = self.blob(&layer.digest)?;
        Some(Pulled {
            bytes,
            digest: digest.to_owned(),
        })
    }

    /// The digest `reference` (a tag) last resolved to.
    fn resolved(&self, reference: &Reference) -> Option<String> {
        let digest = std::fs::read_to_string(self.tag_path(reference)).ok()?;
        Some(digest.trim().to_owned())
    }

    fn remember(&self, reference: &Reference, digest: &str) -> io::Result<()> {
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

    fn manifest(layers: &[(&str, i64)]) -> Vec<u8> {
        let layers: Vec<_> = layers
            .iter()
            .map(|(media_type, size)| {
                serde_json::json!({
                    "mediaType": media_type,
                    "digest": format!("sha256:{}", "0".repeat(64)),
                    "size": size,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_MEDIA_TYPE,
            "config": {"mediaType": WASM_CONFIG, "digest": format!("sha256:{}", "1".repeat(64)), "size": 2},
            "layers": layers,
        }))
        .expect("JSON")
    }

    #[test]
    fn a_plugin_has_one_wasm_layer_of_either_media_type() {
        assert!(wasm_layer(&manifest(&[(WASM_LAYER, 10)])).is_ok());
        assert!(wasm_layer(&manifest(&[(LEGACY_WASM_LAYER, 10)])).is_ok());
        let tar = wasm_layer(&manifest(&[("application/vnd.oci.image.layer.v1.tar", 10)]));
        assert!(tar.expect_err("a tar layer").contains("v1.tar"));
        let two = wasm_layer(&manifest(&[(WASM_LAYER, 10), (WASM_LAYER, 10)]));
        assert!(two.expect_err("two layers").contains("2 layers"));
        let huge = wasm_layer(&manifest(&[(WASM_LAYER, MAX_PLUGIN_BYTES + 1)]));
        assert!(huge.expect_err("too big").contains("bytes"));
        assert!(wasm_layer(b"{}").is_err());
    }

    #[test]
    fn docker_config_keys_name_the_same_registry_however_written() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            registry_host("https://Registry.Example:443/"),
            "registry.example:443"
        );
    }

    #[test]
    fn credentials_come_from_auth_or_from_username_and_password() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("kamaji:s3cret:with:colons");
        let auth = DockerAuth {
            auth: Some(encoded),
            username: None,
            password: None,
        };
        assert_eq!(
            auth.registry_auth(),
            Ok(RegistryAuth::Basic(
                "kamaji".into(),
                "s3cret:with:colons".into()
            ))
        );
        let bad = DockerAuth {
            auth: Some("not base64!".into()),
            username: None,
            password: None,
        };
        assert!(bad.registry_auth().is_err());
    }

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
