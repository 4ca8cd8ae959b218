//! `serve` in the cluster: the Kubernetes client, the installation read from
//! the API, the watch of TenantControlPlanes and DataStores with its store,
//! leader election on a Lease, and the manifests that install the agent.
//!
//! Each concern is one module; the agent wires them together.

pub mod client;
pub mod fleet;
pub mod health;
pub mod install;
pub mod installation;
pub mod kamaji_switch;
pub mod leader;
mod resource;
pub mod store;

pub use client::{ClientError, connect};
pub use fleet::{EventSink, FleetWatch};
pub use health::ClusterHealth;
pub use installation::{
    DEFAULT_KAMAJI_DEPLOYMENT, InstallationOverrides, InstallationReader, KamajiDeployment,
};
pub use leader::{DEFAULT_LEASE_NAME, Election, LeaseConfig};
pub use resource::{KAMAJI_GROUP, KAMAJI_VERSION, Resource};
