//! Kamaji's resources that the agent watches.

use kube::api::{ApiResource, GroupVersionKind};

/// The API group and version of Kamaji's resources.
pub const KAMAJI_GROUP: &str = "kamaji.clastix.io";
pub const KAMAJI_VERSION: &str = "v1alpha1";

/// The two resources the agent watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    TenantControlPlanes,
    DataStores,
}

impl Resource {
    pub const ALL: [Self; 2] = [Self::TenantControlPlanes, Self::DataStores];

    /// The plural, as in URLs, RBAC rules and metric labels.
    pub fn plural(self) -> &'static str {
        match self {
            Self::TenantControlPlanes => "tenantcontrolplanes",
            Self::DataStores => "datastores",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::TenantControlPlanes => "TenantControlPlane",
            Self::DataStores => "DataStore",
        }
    }

    pub fn api_resource(self) -> ApiResource {
        let gvk = GroupVersionKind::gvk(KAMAJI_GROUP, KAMAJI_VERSION, self.kind());
        ApiResource::from_gvk_with_plural(&gvk, self.plural())
    }
}
