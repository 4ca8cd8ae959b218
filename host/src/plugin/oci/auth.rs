//! Registry credentials, from the `auths` of a Docker `config.json`.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

/// Why the registry credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the registry credentials {}: {source}", path.display())]
    File { path: PathBuf, source: io::Error },
    #[error("the registry credentials {} are not a Docker config.json: {source}", path.display())]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the credentials for {registry} in {} cannot be decoded: {reason}", path.display())]
    Credential {
        registry: String,
        path: PathBuf,
        reason: String,
    },
}

/// The `auths` of a Docker `config.json`, by registry host.
#[derive(Debug, Default)]
pub(super) struct Credentials(HashMap<String, RegistryAuth>);

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
    pub(super) fn read(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read(path).map_err(|source| AuthError::File {
            path: path.to_owned(),
            source,
        })?;
        let config: DockerConfig =
            serde_json::from_slice(&text).map_err(|source| AuthError::Format {
                path: path.to_owned(),
                source,
            })?;
        let mut credentials = HashMap::new();
        for (key, entry) in config.auths {
            let auth = entry
                .registry_auth()
                .map_err(|reason| AuthError::Credential {
                    registry: key.clone(),
                    path: path.to_owned(),
                    reason,
                })?;
            credentials.insert(registry_host(&key), auth);
        }
        Ok(Self(credentials))
    }

    pub(super) fn for_reference(&self, reference: &Reference) -> RegistryAuth {
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
pub(super) fn registry_host(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
