//! Kamaji's wire format v1: the four JSON bodies, field names exact and in
//! the order of Kamaji's own structs, so bodies are stable byte for byte.
//!
//! Every field is a number, a boolean or one of the redacted types
//! ([`KubernetesVersion`], [`KamajiVersion`], [`TcpStatus`],
//! [`NetworkProfile`], [`InstallationId`]), none of which can hold an input
//! string. A body therefore cannot leak one, whatever a builder does.

use crate::installation_id::InstallationId;
use crate::profile::NetworkProfile;
use crate::status::TcpStatus;
use crate::versions::{KamajiVersion, KubernetesVersion};
use serde::{Serialize, Serializer};

/// The two fields every body starts with: which Kamaji, on which Kubernetes.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Platform {
    pub kamaji_version: KamajiVersion,
    pub kubernetes_version: KubernetesVersion,
}

/// `POST /stats`: the periodic heartbeat.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub uuid: InstallationId,
    #[serde(flatten)]
    pub platform: Platform,
    pub tenant_control_plane: TcpCounts,
    pub datastores: Datastores,
}

/// TCPs by status bucket.
#[derive(Debug, Default, Serialize)]
pub struct TcpCounts {
    pub running: usize,
    pub upgrading: usize,
    pub not_ready: usize,
    pub sleeping: usize,
}

/// DataStores by driver.
#[derive(Debug, Default, Serialize)]
pub struct Datastores {
    pub etcd: DatastoreCounts,
    pub postgres: DatastoreCounts,
    pub mysql: DatastoreCounts,
    pub nats: DatastoreCounts,
}

/// The DataStores of one driver.
#[derive(Debug, Default, Serialize)]
pub struct DatastoreCounts {
    /// How many there are.
    pub count: usize,
    /// How many TCPs use them, summed over `status.usedBy`.
    pub used_by_count: usize,
}

/// `POST /create`: a TCP was created.
#[derive(Debug, Serialize)]
pub struct Create {
    #[serde(flatten)]
    pub platform: Platform,
    pub tcp_version: KubernetesVersion,
    pub cluster_api: bool,
    pub network_profile: NetworkProfile,
}

/// `POST /update`: a TCP's Kubernetes version was changed.
#[derive(Debug, Serialize)]
pub struct Update {
    #[serde(flatten)]
    pub platform: Platform,
    pub old_tcp_version: KubernetesVersion,
    pub new_tcp_version: KubernetesVersion,
}

/// `POST /delete`: a TCP was deleted.
#[derive(Debug, Serialize)]
pub struct Delete {
    #[serde(flatten)]
    pub platform: Platform,
    pub tcp_version: KubernetesVersion,
    pub status: TcpStatus,
}

/// The redacted value types are sent as the text their `Display` renders,
/// which is the one place each of them defines its spelling.
macro_rules! serialize_as_text {
    ($($ty:ty),+) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    )+};
}

serialize_as_text!(
    InstallationId,
    KamajiVersion,
    KubernetesVersion,
    NetworkProfile,
    TcpStatus
);
