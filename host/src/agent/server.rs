//! The agent's HTTP server: TLS (required for the webhook off loopback, and
//! reloaded when the certificate is renewed) and the timeouts that keep
//! stalled connections from piling up.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use tokio::task::JoinHandle;

use super::config::{AgentConfig, TlsFiles};
use super::failure::AgentError;
use super::signals::hangup;
use super::watch::{self, FileWatch};

/// With the webhook, plain HTTP only on loopback (tests, port-forwarding).
pub async fn tls_config(config: &AgentConfig) -> Result<Option<RustlsConfig>, AgentError> {
    match &config.tls {
        Some(files) => RustlsConfig::from_pem_file(&files.cert, &files.key)
            .await
            .map(Some)
            .map_err(|source| AgentError::Tls {
                files: files.clone(),
                source,
            }),
        // Probes and scrapes are plain HTTP in a cluster; the API server
        // calls webhooks over HTTPS only.
        None if config.listen.ip().is_loopback() || !config.webhook => Ok(None),
        None => Err(AgentError::PlainHttpOffLoopback(config.listen)),
    }
}

/// Follows the certificate and the key, so that a renewed certificate (as
/// cert-manager rotates it in the Secret) is served without a restart. A
/// pair that does not load, say while only one of the two is new, leaves the
/// current one in use.
pub async fn follow_tls(
    files: &TlsFiles,
    tls: &RustlsConfig,
    interval: Duration,
) -> Result<Vec<JoinHandle<()>>, AgentError> {
    let mut tasks = Vec::new();
    for path in [&files.cert, &files.key] {
        let watch = FileWatch::new(path, &read(path).await?);
        let (files, tls) = (files.clone(), tls.clone());
        let reload = async move |_| match tls.reload_from_pem_file(&files.cert, &files.key).await {
            Ok(()) => tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded"),
            Err(error) => tracing::warn!(
                cert = %files.cert.display(),
                "cannot reload the TLS certificate, the current one stays: {error}"
            ),
        };
        tasks.push(tokio::spawn(watch::follow(
            watch,
            interval,
            hangup()?,
            reload,
        )));
    }
    Ok(tasks)
}

async fn read(path: &Path) -> Result<Vec<u8>, AgentError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| AgentError::Read {
            path: path.to_owned(),
            source,
        })
}

pub async fn serve_http(
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    app: axum::Router,
    handle: axum_server::Handle<SocketAddr>,
) -> std::io::Result<()> {
    let service = app.into_make_service();
    match tls {
        Some(tls) => {
            with_timeouts(axum_server::tls_rustls::from_tcp_rustls(listener, tls)?)
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            with_timeouts(axum_server::from_tcp(listener)?)
                .handle(handle)
                .serve(service)
                .await
        }
    }
}

/// How long a client may take to send a request's headers, its first ones
/// included: then its connection is closed, so that idle or stalled
/// connections do not pile up. The API server sends a review at once.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

fn with_timeouts<Acceptor>(
    mut server: axum_server::Server<SocketAddr, Acceptor>,
) -> axum_server::Server<SocketAddr, Acceptor> {
    server
        .http_builder()
        .http1()
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Before the first request, the protocol is not known yet (HTTP/1 or 2):
    // this bounds that wait, and the TLS acceptor bounds the handshake.
    server.first_request_timeout(HEADER_READ_TIMEOUT)
}

/// The server ended before shutdown was asked for.
pub fn server_failure(ended: Result<std::io::Result<()>, tokio::task::JoinError>) -> AgentError {
    match ended {
        Ok(Err(error)) => AgentError::Serve(error),
        Ok(Ok(())) => AgentError::Serve(std::io::Error::other("the server stopped")),
        Err(crash) => AgentError::Crashed(crash.to_string()),
    }
}
