//! Why the agent could not start, or went down.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::config::TlsFiles;
use super::config_file::ConfigFileError;
use crate::cluster::ClientError;
use crate::plugin::Refusal;
use crate::plugin::source::SourceError;
use crate::transport::local_mode::LocalModeError;
use crate::transport::{self, QueueError};

/// Why the agent could not start or went down.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "refusing to serve plain HTTP on {0}: the API server calls webhooks over HTTPS only. \
         Give --tls-cert and --tls-key, or listen on a loopback address (127.0.0.1, [::1]) for testing"
    )]
    PlainHttpOffLoopback(SocketAddr),
    #[error("cannot use the TLS certificate {} and key {}: {source}", files.cert.display(), files.key.display())]
    Tls {
        files: TlsFiles,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the plugin {plugin} was refused: {refusal}")]
    Plugin { plugin: String, refusal: Refusal },
    #[error(transparent)]
    Fetch(#[from] SourceError),
    #[error(transparent)]
    ConfigFile(#[from] ConfigFileError),
    #[error(transparent)]
    Transport(#[from] transport::ConfigError),
    #[error(transparent)]
    LocalMode(#[from] LocalModeError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot handle signals: {0}")]
    Signal(std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("an agent task crashed: {0}")]
    Crashed(String),
    #[error(transparent)]
    Cluster(#[from] ClientError),
}
