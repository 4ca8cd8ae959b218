//! The host's own model of what telemetry is made of: the installation, its
//! TenantControlPlanes and DataStores, the events they go through, and the
//! payloads a plugin builds from them.
//!
//! Every part of the host (the Kubernetes decoder, the leak guard, the agent)
//! works on these types. Only the per-version contract adapters of the host
//! (`plugin::contract::v0_1_0`, `v0_2_0`, ...) convert them to and from the
//! types that one WIT version generates, so a new contract version changes
//! one adapter and nothing else.
//!
//! The shapes follow the contract's types (the WIT documents each field's
//! source in the Kubernetes object) so the conversions stay field for field.

use std::fmt;

/// The Kamaji installation that the events come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installation {
    /// The raw UID of the Service `default/kubernetes`: identifying.
    pub cluster_uid: String,
    /// The Kamaji controller's build version (`v1.0.0`, `edge-25.4.1`).
    pub kamaji_version: String,
    /// The management cluster's raw `GitVersion`, or `Unknown`.
    pub kubernetes_version: String,
}

/// One entry of a label or annotation map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

/// `spec.controlPlane.ingress`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressExposure {
    pub hostname: Option<String>,
    pub class_name: Option<String>,
}

/// `spec.controlPlane.gateway`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayExposure {
    pub hostname: Option<String>,
}

/// A TenantControlPlane, identifying parts included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantControlPlane {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: Vec<KeyValue>,
    pub annotations: Vec<KeyValue>,
    pub owner_references: Vec<OwnerReference>,
    /// `spec.kubernetes.version`.
    pub desired_version: Option<String>,
    /// `status.kubernetesResources.version.version`.
    pub installed_version: Option<String>,
    /// `status.kubernetesResources.version.status`, raw.
    pub status: Option<String>,
    /// `spec.controlPlane.service.serviceType`, raw.
    pub service_type: Option<String>,
    pub ingress: Option<IngressExposure>,
    pub gateway: Option<GatewayExposure>,
    /// `spec.networkProfile.address`.
    pub network_address: Option<String>,
    /// `status.controlPlaneEndpoint`.
    pub endpoint: Option<String>,
    /// `spec.dataStore`.
    pub data_store: Option<String>,
}

/// A DataStore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataStore {
    pub name: String,
    /// `spec.driver`, raw.
    pub driver: String,
    /// `status.usedBy`: `namespace/name` of each TCP using it.
    pub used_by: Vec<String>,
}

/// An update of a TenantControlPlane: the object before and after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpUpdate {
    pub previous: TenantControlPlane,
    pub current: TenantControlPlane,
}

/// Every TCP and DataStore of the installation at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    pub tenant_control_planes: Vec<TenantControlPlane>,
    pub data_stores: Vec<DataStore>,
}

/// What happened.
// An update holds two TCPs inline, as the contract's variant does: events are
// built once and passed by reference, so the size of the enum costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Created(TenantControlPlane),
    Updated(TcpUpdate),
    Deleted(TenantControlPlane),
    Heartbeat(Fleet),
}

impl Event {
    /// The event's kind, as logs and metrics name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Created(_) => "created",
            Event::Updated(_) => "updated",
            Event::Deleted(_) => "deleted",
            Event::Heartbeat(_) => "heartbeat",
        }
    }
}

/// Where a payload goes: `POST <base-url>/<route>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    Stats,
    Create,
    Update,
    Delete,
}

impl Route {
    pub const ALL: [Route; 4] = [Route::Stats, Route::Create, Route::Update, Route::Delete];

    /// The route's path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Stats => "stats",
            Route::Create => "create",
            Route::Update => "update",
            Route::Delete => "delete",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin did to an input field on its way to the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedactionAction {
    Dropped,
    Normalised,
    Pseudonymised,
}

impl RedactionAction {
    /// The action's name, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactionAction::Dropped => "dropped",
            RedactionAction::Normalised => "normalised",
            RedactionAction::Pseudonymised => "pseudonymised",
        }
    }
}

/// One entry of a redaction report: the input field and the reason, never
/// the field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    pub field: String,
    pub action: RedactionAction,
    pub reason: String,
}

/// One HTTP request's worth of telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub route: Route,
    /// The JSON body, exactly as it is to be sent.
    pub body: String,
    pub redactions: Vec<Redaction>,
}

/// The documentation of one field that a plugin can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDoc {
    /// The JSON field name, dotted for nested fields.
    pub name: String,
    pub route: Route,
    pub meaning: String,
    /// An example value, as JSON.
    pub example: String,
}

bitflags::bitflags! {
    /// The groups of input fields a plugin reads; the host hands it the others
    /// empty. The groups are the contract's `input-fields` flags.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct InputFields: u16 {
        const CLUSTER_UID = 1 << 0;
        const VERSIONS = 1 << 1;
        const STATUS = 1 << 2;
        const EXPOSURE = 1 << 3;
        const IDENTITY = 1 << 4;
        const LABELS = 1 << 5;
        const ANNOTATIONS = 1 << 6;
        const OWNER_KINDS = 1 << 7;
        const OWNER_IDENTITY = 1 << 8;
        const ADDRESSES = 1 << 9;
        const DATA_STORE_NAMES = 1 << 10;
        const DRIVERS = 1 << 11;
        const USED_BY = 1 << 12;
    }
}

impl InputFields {
    /// Each group with the input fields it covers, as reports and the README
    /// print them.
    pub const GROUPS: [(InputFields, &'static str, &'static str); 13] = [
        (Self::CLUSTER_UID, "cluster-uid", "installation.cluster-uid"),
        (
            Self::VERSIONS,
            "versions",
            "installation.kamaji-version, installation.kubernetes-version, tenant-control-plane.desired-version, tenant-control-plane.installed-version",
        ),
        (Self::STATUS, "status", "tenant-control-plane.status"),
        (
            Self::EXPOSURE,
            "exposure",
            "tenant-control-plane.service-type, whether it has an ingress or a gateway, ingress.class-name",
        ),
        (
            Self::IDENTITY,
            "identity",
            "tenant-control-plane.name, .namespace, .uid",
        ),
        (Self::LABELS, "labels", "tenant-control-plane.labels"),
        (
            Self::ANNOTATIONS,
            "annotations",
            "tenant-control-plane.annotations",
        ),
        (
            Self::OWNER_KINDS,
            "owner-kinds",
            "owner-references[].kind, owner-references[].api-version",
        ),
        (
            Self::OWNER_IDENTITY,
            "owner-identity",
            "owner-references[].name, owner-references[].uid",
        ),
        (
            Self::ADDRESSES,
            "addresses",
            "ingress.hostname, gateway.hostname, tenant-control-plane.network-address, .endpoint",
        ),
        (
            Self::DATA_STORE_NAMES,
            "data-store-names",
            "tenant-control-plane.data-store, data-store.name",
        ),
        (Self::DRIVERS, "drivers", "data-store.driver"),
        (Self::USED_BY, "used-by", "data-store.used-by entries"),
    ];

    /// The names of the groups set, in the contract's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::GROUPS
            .iter()
            .filter(|(group, _, _)| self.contains(*group))
            .map(|(_, name, _)| *name)
            .collect()
    }
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub version: String,
    /// The wire schema its bodies follow, for example `kamaji-telemetry/v1`.
    pub wire_schema: String,
    /// One entry for every field it can send.
    pub fields: Vec<FieldDoc>,
    /// The input fields it reads. A plugin of a contract without
    /// declarations reads everything.
    pub reads: InputFields,
    /// The routes it may send to; `None` for a plugin of a contract without
    /// declarations (0.1.0), which may send to any.
    pub routes: Option<Vec<Route>>,
}

/// Why a plugin built no payload for an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("malformed input: {0}")]
    MalformedInput(String),
    #[error("unsupported event: {0}")]
    UnsupportedEvent(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A plugin of a contract without typed errors (0.1.0) said why in words.
    #[error("{0}")]
    Untyped(String),
}

impl PluginError {
    /// The error's kind, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::MalformedInput(_) => "malformed_input",
            PluginError::UnsupportedEvent(_) => "unsupported_event",
            PluginError::Internal(_) => "internal",
            PluginError::Untyped(_) => "untyped",
        }
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            PluginError::MalformedInput(message)
            | PluginError::UnsupportedEvent(message)
            | PluginError::Internal(message)
            | PluginError::Untyped(message) => message,
        }
    }
}
