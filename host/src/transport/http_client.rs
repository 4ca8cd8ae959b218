//! The one HTTP client payloads go out on, and its settings: the endpoint,
//! extra trusted CAs, the timeout, the user agent and the retry policy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Certificate, Client, Url};

use super::retry::RetryPolicy;
use super::stats::DeliveryStats;

/// Where Kamaji's telemetry backend listens.
pub const DEFAULT_ENDPOINT: &str = "https://telemetry.clastix.io";

/// How much of a response body is read, at most. Enough for an error message;
/// a misbehaving server cannot make the host buffer more.
pub const DEFAULT_RESPONSE_BODY_LIMIT: usize = 4 * 1024;

/// Settings of a [`Transport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Base URL; each payload goes to `{endpoint}/{route}`. http or https.
    pub endpoint: String,
    /// Extra trusted CA certificates (PEM), added to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Limit for one attempt: connecting, sending and reading the response.
    pub timeout: Duration,
    /// `User-Agent` header of every request.
    pub user_agent: String,
    /// Backoff and total budget of the retries of one payload.
    pub retry: RetryPolicy,
    /// Bytes of a response body read at most.
    pub response_body_limit: usize,
}

impl TransportConfig {
    /// The defaults (Kamaji's endpoint, 5 s timeout, OTel retry settings,
    /// 4 KiB body limit) with the caller's user agent.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            ca_file: None,
            timeout: Duration::from_secs(5),
            user_agent: user_agent.into(),
            retry: RetryPolicy::default(),
            response_body_limit: DEFAULT_RESPONSE_BODY_LIMIT,
        }
    }
}

/// A [`TransportConfig`] that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid telemetry endpoint {url:?}: {reason}")]
    InvalidEndpoint { url: String, reason: String },
    #[error("invalid user agent {0:?}: not a valid HTTP header value")]
    InvalidUserAgent(String),
    #[error("cannot read CA file {}: {source}", path.display())]
    CaFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {} is not a valid PEM certificate bundle: {source}", path.display())]
    CaFileInvalid {
        path: PathBuf,
        source: reqwest::Error,
    },
    #[error("CA file {} contains no PEM certificate", path.display())]
    CaFileEmpty { path: PathBuf },
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Delivers payloads over one shared HTTP client. Cheap to share in an `Arc`;
/// every method takes `&self`.
#[derive(Debug)]
pub struct Transport {
    // Read by the delivery of a payload (`super::delivery`), which is the
    // rest of this type's implementation.
    pub(super) client: Client,
    endpoint: Url,
    pub(super) retry: RetryPolicy,
    pub(super) response_body_limit: usize,
    pub(super) stats: Arc<DeliveryStats>,
}

impl Transport {
    /// Checks the configuration and builds the client. Reads the CA file now,
    /// so that a bad path fails at start-up rather than at the first send.
    pub fn new(config: TransportConfig) -> Result<Self, ConfigError> {
        let endpoint = parse_endpoint(&config.endpoint)?;
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| ConfigError::InvalidUserAgent(config.user_agent.clone()))?;
        let extra_roots = match &config.ca_file {
            Some(path) => load_ca_file(path)?,
            None => Vec::new(),
        };
        let mut builder = Client::builder()
            .user_agent(user_agent)
            // One limit from connecting to the end of the response body.
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .use_rustls_tls();
        for cert in extra_roots {
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            client: builder.build().map_err(ConfigError::Client)?,
            endpoint,
            retry: config.retry,
            response_body_limit: config.response_body_limit,
            stats: Arc::default(),
        })
    }

    /// The counters this transport (and any queue built on it) updates.
    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }

    /// `{endpoint}/{route}`. The route is one path segment: `url` encodes any
    /// `/` or `?` in it and skips `.`/`..`, so it cannot leave the endpoint.
    pub(super) fn route_url(&self, route: &str) -> Url {
        let mut url = self.endpoint.clone();
        // Cannot fail: `parse_endpoint` only accepts URLs that can be a base.
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(route);
        }
        url
    }
}

fn parse_endpoint(raw: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidEndpoint {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("a host is required"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(url)
}

/// Reads and checks a PEM bundle. reqwest only parses the certificates when
/// the client is built, mixed with the system roots; a throwaway client that
/// trusts only this file tells a broken CA file apart from other errors.
fn load_ca_file(path: &Path) -> Result<Vec<Certificate>, ConfigError> {
    let pem = std::fs::read(path).map_err(|source| ConfigError::CaFileUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |source| ConfigError::CaFileInvalid {
        path: path.to_owned(),
        source,
    };
    let certs = Certificate::from_pem_bundle(&pem).map_err(invalid)?;
    if certs.is_empty() {
        return Err(ConfigError::CaFileEmpty {
            path: path.to_owned(),
        });
    }
    let mut probe = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false);
    for cert in &certs {
        probe = probe.add_root_certificate(cert.clone());
    }
    probe.build().map_err(invalid)?;
    Ok(certs)
}
