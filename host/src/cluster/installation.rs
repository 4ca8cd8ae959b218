//! The installation, read from the cluster: its UID (the Service
//! `default/kubernetes`), its Kubernetes version (`/version`, read again at
//! every heartbeat, as the control plane gets upgraded under a running
//! agent) and Kamaji's version (the controller Deployment's
//! `app.kubernetes.io/version` label, else its image tag). A value given on
//! the command line overrides what the cluster says, and is never read.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};
use tokio::sync::Mutex;

use super::health::ClusterHealth;
use crate::model::Installation;

/// Where `serve` looks for Kamaji's controller unless told otherwise, and
/// what the manifests' RBAC lets it read.
pub const DEFAULT_KAMAJI_DEPLOYMENT: &str = "kamaji-system/kamaji";

const UNKNOWN: &str = "Unknown";
const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// `--kamaji-deployment NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KamajiDeployment {
    pub namespace: String,
    pub name: String,
}

impl FromStr for KamajiDeployment {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => Ok(Self {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(format!("expected NAMESPACE/NAME, got {text:?}")),
        }
    }
}

impl fmt::Display for KamajiDeployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What the command line fixed; `None` is read from the cluster.
#[derive(Debug, Clone, Default)]
pub struct InstallationOverrides {
    pub cluster_uid: Option<String>,
    pub kamaji_version: Option<String>,
    pub kubernetes_version: Option<String>,
}

/// Reads the installation, keeping the last value read of each field, so an
/// API hiccup does not turn a known version into `Unknown`.
pub struct InstallationReader {
    client: Client,
    overrides: InstallationOverrides,
    deployment: Option<KamajiDeployment>,
    health: Arc<ClusterHealth>,
    last: Mutex<Installation>,
}

impl InstallationReader {
    pub fn new(
        client: Client,
        overrides: InstallationOverrides,
        deployment: Option<KamajiDeployment>,
        health: Arc<ClusterHealth>,
    ) -> Self {
        let last = Installation {
            cluster_uid: overrides.cluster_uid.clone().unwrap_or_default(),
            kamaji_version: overrides.kamaji_version.clone().unwrap_or(UNKNOWN.into()),
            kubernetes_version: overrides
                .kubernetes_version
                .clone()
                .unwrap_or(UNKNOWN.into()),
        };
        Self {
            client,
            overrides,
            deployment,
            health,
            last: Mutex::new(last),
        }
    }

    /// The installation now: each field not overridden is read again.
    pub async fn read(&self) -> Installation {
        let mut last = self.last.lock().await;
        if self.overrides.cluster_uid.is_none()
            && let Some(uid) = self.cluster_uid().await
        {
            last.cluster_uid = uid;
        }
        if self.overrides.kubernetes_version.is_none()
            && let Some(version) = self.kubernetes_version().await
        {
            last.kubernetes_version = version;
        }
        if self.overrides.kamaji_version.is_none()
            && let Some(version) = self.kamaji_version().await
        {
            last.kamaji_version = version;
        }
        last.clone()
    }

    async fn cluster_uid(&self) -> Option<String> {
        let services = Api::<Service>::namespaced(self.client.clone(), "default");
        let service = self.api(
            "the Service default/kubernetes",
            services.get("kubernetes").await,
        )?;
        service.metadata.uid
    }

    async fn kubernetes_version(&self) -> Option<String> {
        let info = self.api("/version", self.client.apiserver_version().await)?;
        Some(info.git_version)
    }

    async fn kamaji_version(&self) -> Option<String> {
        let deployment = self.deployment.as_ref()?;
        let api = Api::<Deployment>::namespaced(self.client.clone(), &deployment.namespace);
        let what = format!("the Kamaji Deployment {deployment}");
        let found = self.api(&what, api.get(&deployment.name).await)?;
        let version = deployment_version(&found);
        if version.is_none() {
            tracing::warn!(
                "{what} has no {VERSION_LABEL} label and no image tag: Kamaji's version is unknown"
            );
        }
        version
    }

    /// The value, or `None` with the error logged and counted.
    fn api<T>(&self, what: &str, result: Result<T, kube::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.health.api_error(&error);
                tracing::warn!("cannot read {what}: {error}{}", advice(&error));
                None
            }
        }
    }
}

/// What to do about an error, for the log line.
pub(super) fn advice(error: &kube::Error) -> &'static str {
    match error {
        kube::Error::Api(status) if status.code == 403 => {
            " (the agent's ServiceAccount lacks this permission: apply the RBAC from `kamaji-telemetry manifests`)"
        }
        kube::Error::Api(status) if status.code == 404 => {
            " (not found: is Kamaji installed, with its CRDs, and the name right?)"
        }
        _ => "",
    }
}

/// The `app.kubernetes.io/version` label, else the tag of the first
/// container's image.
fn deployment_version(deployment: &Deployment) -> Option<String> {
    let labelled = deployment
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(VERSION_LABEL))
        .filter(|version| !version.is_empty());
    if let Some(version) = labelled {
        return Some(version.clone());
    }
    let spec = deployment.spec.as_ref()?.template.spec.as_ref()?;
    let image = spec.containers.first()?.image.as_deref()?;
    image_tag(image).map(str::to_owned)
}

/// `registry:5000/clastix/kamaji:v1.0.0@sha256:…` → `v1.0.0`.
fn image_tag(image: &str) -> Option<&str> {
    let reference = image.split_once('@').map_or(image, |(name, _digest)| name);
    let last_segment = reference.rsplit('/').next()?;
    let (_, tag) = last_segment.split_once(':')?;
    (!tag.is_empty()).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("clastix/kamaji:v1.0.0"), Some("v1.0.0"));
        assert_eq!(
            image_tag("registry:5000/clastix/kamaji:edge-25.4.1@sha256:abc"),
            Some("edge-25.4.1")
        );
        assert_eq!(image_tag("registry:5000/clastix/kamaji"), None);
        assert_eq!(image_tag("kamaji@sha256:abc"), None);
        assert_eq!(image_tag("kamaji:"), None);
    }

    #[test]
    fn the_label_wins_over_the_image() {
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app.kubernetes.io/version": "v1.1.0"}},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "manager", "image": "clastix/kamaji:v1.0.0"}]}}}
        }))
        .expect("a Deployment");
        assert_eq!(deployment_version(&deployment).as_deref(), Some("v1.1.0"));
        let mut unlabelled = deployment.clone();
        unlabelled.metadata.labels = None;
        assert_eq!(deployment_version(&unlabelled).as_deref(), Some("v1.0.0"));
    }

    #[test]
    fn deployments_are_namespace_slash_name() {
        let parsed: KamajiDeployment = "kamaji-system/kamaji".parse().expect("parses");
        assert_eq!(parsed.to_string(), "kamaji-system/kamaji");
        for bad in ["kamaji", "/kamaji", "ns/", ""] {
            assert!(bad.parse::<KamajiDeployment>().is_err(), "{bad}");
        }
    }
}
