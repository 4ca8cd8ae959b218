//! `serve` in the cluster: the Kubernetes client, the installation read from
//! the API, the watch of TenantControlPlanes and DataStores with its store,
//! leader election on a Lease, and the manifests that install the agent.
//!
//! Each concern is one module; the agent wires them together.

pub mod client;
pub mod fleet;
pub mod health;
pub mod installation;
pub mod kamaji_switch;
pub mod leader;
pub mod manifests;

pub use client::{ClientError, connect};
pub use fleet::{EventSink, FleetWatch, Resource};
pub use health::ClusterHealth;
pub use installation::{InstallationOverrides, InstallationReader, KamajiDeployment};
pub use leader::{Election, LeaseConfig};

/// Where `serve` looks for Kamaji's controller unless told otherwise, and
/// what the manifests' RBAC lets it read.
pub const DEFAULT_KAMAJI_DEPLOYMENT: &str = "kamaji-system/kamaji";
/// The Lease of the agent's replicas.
pub const DEFAULT_LEASE_NAME: &str = "kamaji-telemetry";

/// The API group and version of Kamaji's resources.
pub const KAMAJI_GROUP: &str = "kamaji.clastix.io";
pub const KAMAJI_VERSION: &str = "v1alpha1";
