//! The parts of Kubernetes objects that the contract needs, as serde shapes.
//!
//! Each struct names only the fields that are mapped, so serde skips the rest of
//! an object without building it. Every field is optional: manifests written by
//! hand have no status, uid or namespace, and YAML writes an empty key as null.
//! A missing field maps to `None` or an empty list, never to an error.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::documents::Items;
use crate::model::{
    DataStore, GatewayExposure, IngressExposure, KeyValue, OwnerReference, TenantControlPlane,
};

/// Any Kubernetes object, read for the fields that the kinds we decode have.
///
/// Which of them mean something depends on `kind`: `request` for an
/// AdmissionReview, `items` for a list, `spec` and `status` for a
/// TenantControlPlane or a DataStore. One shape for all of them lets a document
/// be read in a single pass, whatever order its keys come in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct KubeObject<'a> {
    // Borrowed: these are only compared, never kept.
    #[serde(borrow, default)]
    pub api_version: Cow<'a, str>,
    #[serde(borrow, default)]
    pub kind: Cow<'a, str>,
    metadata: Option<Metadata>,
    spec: Option<Spec>,
    status: Option<Status>,
    #[serde(borrow)]
    pub request: Option<Box<AdmissionRequest<'a>>>,
    #[serde(borrow)]
    pub items: Option<Items<'a>>,
}

/// `request` of an AdmissionReview (admission.k8s.io/v1 and v1beta1 alike).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AdmissionRequest<'a> {
    pub uid: Option<String>,
    #[serde(borrow)]
    pub kind: Option<GroupVersionKind<'a>>,
    #[serde(borrow, default)]
    pub operation: Cow<'a, str>,
    #[serde(borrow)]
    pub object: Option<KubeObject<'a>>,
    #[serde(borrow)]
    pub old_object: Option<KubeObject<'a>>,
}

/// `request.kind`: the kind the admission is about.
#[derive(Default, Deserialize)]
pub(super) struct GroupVersionKind<'a> {
    #[serde(borrow, default)]
    pub group: Cow<'a, str>,
    #[serde(borrow, default)]
    pub kind: Cow<'a, str>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    labels: Option<KeyValues>,
    annotations: Option<KeyValues>,
    owner_references: Option<Vec<OwnerRef>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerRef {
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    uid: Option<String>,
}

/// The `spec` fields of a TenantControlPlane and of a DataStore together.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    kubernetes: Option<KubernetesSpec>,
    control_plane: Option<ControlPlaneSpec>,
    network_profile: Option<NetworkProfile>,
    data_store: Option<String>,
    driver: Option<String>,
}

#[derive(Deserialize)]
struct KubernetesSpec {
    version: Option<String>,
}

#[derive(Default, Deserialize)]
struct ControlPlaneSpec {
    service: Option<ServiceSpec>,
    ingress: Option<IngressSpec>,
    gateway: Option<GatewaySpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceSpec {
    service_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IngressSpec {
    hostname: Option<String>,
    ingress_class_name: Option<String>,
}

#[derive(Deserialize)]
struct GatewaySpec {
    hostname: Option<String>,
}

#[derive(Deserialize)]
struct NetworkProfile {
    address: Option<String>,
}

/// The `status` fields of a TenantControlPlane and of a DataStore together.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    kubernetes_resources: Option<KubernetesResources>,
    control_plane_endpoint: Option<String>,
    used_by: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct KubernetesResources {
    version: Option<VersionStatus>,
}

#[derive(Default, Deserialize)]
struct VersionStatus {
    version: Option<String>,
    status: Option<String>,
}

impl KubeObject<'_> {
    /// Maps the object's fields onto the contract's record (see the WIT docs).
    pub fn into_tenant_control_plane(self) -> TenantControlPlane {
        let metadata = self.metadata.unwrap_or_default();
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        let control_plane = spec.control_plane.unwrap_or_default();
        let version = status
            .kubernetes_resources
            .and_then(|resources| resources.version)
            .unwrap_or_default();
        TenantControlPlane {
            name: metadata.name.unwrap_or_default(),
            namespace: metadata.namespace.unwrap_or_default(),
            uid: metadata.uid.unwrap_or_default(),
            labels: metadata.labels.unwrap_or_default().0,
            annotations: metadata.annotations.unwrap_or_default().0,
            owner_references: metadata
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .map(OwnerReference::from)
                .collect(),
            desired_version: spec.kubernetes.and_then(|kubernetes| kubernetes.version),
            installed_version: version.version,
            status: version.status,
            service_type: control_plane
                .service
                .and_then(|service| service.service_type),
            ingress: control_plane.ingress.map(|ingress| IngressExposure {
                hostname: ingress.hostname,
                class_name: ingress.ingress_class_name,
            }),
            gateway: control_plane.gateway.map(|gateway| GatewayExposure {
                hostname: gateway.hostname,
            }),
            network_address: spec.network_profile.and_then(|profile| profile.address),
            endpoint: status.control_plane_endpoint,
            data_store: spec.data_store,
        }
    }

    /// Maps the object's fields onto the contract's record (see the WIT docs).
    pub fn into_data_store(self) -> DataStore {
        DataStore {
            name: self.metadata.and_then(|m| m.name).unwrap_or_default(),
            driver: self.spec.and_then(|s| s.driver).unwrap_or_default(),
            used_by: self.status.and_then(|s| s.used_by).unwrap_or_default(),
        }
    }
}

impl From<OwnerRef> for OwnerReference {
    fn from(owner: OwnerRef) -> Self {
        OwnerReference {
            api_version: owner.api_version.unwrap_or_default(),
            kind: owner.kind.unwrap_or_default(),
            name: owner.name.unwrap_or_default(),
            uid: owner.uid.unwrap_or_default(),
        }
    }
}

/// A label or annotation map, read straight into a list in the object's order
/// (the API server sorts the keys).
#[derive(Default)]
struct KeyValues(Vec<KeyValue>);

impl<'de> Deserialize<'de> for KeyValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(KeyValuesVisitor)
    }
}

struct KeyValuesVisitor;

impl<'de> Visitor<'de> for KeyValuesVisitor {
    type Value = KeyValues;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyValues, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry()? {
            entries.push(KeyValue { key, value });
        }
        Ok(KeyValues(entries))
    }
}
