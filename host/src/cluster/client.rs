//! The Kubernetes client, configured as every operator's is: an explicit
//! `--kubeconfig` file first; else kube's inference, which reads `KUBECONFIG`
//! or `~/.kube/config` and, when there is none, the pod's service account
//! (in-cluster). Client TLS is rustls.

use std::path::{Path, PathBuf};

use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

/// Why no client could be configured.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot use the kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        path: PathBuf,
        source: KubeconfigError,
    },
    #[error(
        "no Kubernetes configuration: give --kubeconfig, set KUBECONFIG, or run in a pod with a service account ({0})"
    )]
    Infer(#[source] InferConfigError),
    #[error("cannot build the Kubernetes client: {0}")]
    Build(#[source] kube::Error),
}

/// A client for `kubeconfig` if given, else for the inferred configuration.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<Client, ClientError> {
    let config = match kubeconfig {
        Some(path) => from_file(path).await?,
        None => Config::infer().await.map_err(ClientError::Infer)?,
    };
    Client::try_from(config).map_err(ClientError::Build)
}

async fn from_file(path: &Path) -> Result<Config, ClientError> {
    let error = |source| ClientError::Kubeconfig {
        path: path.to_owned(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(error)?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(error)
}
