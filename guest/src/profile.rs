//! The two facts a create payload tells about a new TCP: how it is exposed
//! (`network_profile`) and whether Cluster API manages it (`cluster_api`).
//!
//! Both are reduced to closed vocabularies: the hostnames, class names and
//! owner names that the decisions look past are never copied anywhere.

use crate::TenantControlPlane;
use crate::versions::UNKNOWN;
use core::fmt;

/// The ownerReference kind of Cluster API's Kamaji control-plane provider.
const CLUSTER_API_OWNER_KIND: &str = "KamajiControlPlane";

/// True when Cluster API manages the TCP, by Kamaji's rule: any owner of kind
/// `KamajiControlPlane` (the API group is not checked, as in Kamaji).
pub fn is_cluster_api(tcp: &TenantControlPlane) -> bool {
    tcp.owner_references
        .iter()
        .any(|owner| owner.kind == CLUSTER_API_OWNER_KIND)
}

/// How the TCP's API server is exposed, as it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkProfile {
    Ingress,
    LoadBalancer,
    NodePort,
    ClusterIp,
    Unknown,
}

impl NetworkProfile {
    /// Kamaji's rules, first match wins: an ingress, then the service type.
    ///
    /// Gateway exposure has no value of its own in Kamaji's format, so a TCP
    /// behind a gateway is reported by its service type, as Kamaji does.
    pub fn of(tcp: &TenantControlPlane) -> Self {
        if tcp.ingress.is_some() {
            return Self::Ingress;
        }
        match tcp.service_type.as_deref() {
            Some("LoadBalancer") => Self::LoadBalancer,
            Some("NodePort") => Self::NodePort,
            Some("ClusterIP") => Self::ClusterIp,
            _ => Self::Unknown,
        }
    }

    /// The wire's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::LoadBalancer => "load_balancer",
            Self::NodePort => "node_port",
            Self::ClusterIp => "cluster_ip",
            Self::Unknown => UNKNOWN,
        }
    }
}

impl fmt::Display for NetworkProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fixtures::{owner, tcp};
    use crate::{GatewayExposure, IngressExposure};

    fn exposed(service_type: Option<&str>, ingress: bool) -> TenantControlPlane {
        TenantControlPlane {
            service_type: service_type.map(Into::into),
            ingress: ingress.then_some(IngressExposure {
                hostname: None,
                class_name: None,
            }),
            ..tcp()
        }
    }

    #[test]
    fn service_types_map_to_their_profiles() {
        for (service_type, profile) in [
            (Some("LoadBalancer"), NetworkProfile::LoadBalancer),
            (Some("NodePort"), NetworkProfile::NodePort),
            (Some("ClusterIP"), NetworkProfile::ClusterIp),
            (Some("ExternalName"), NetworkProfile::Unknown),
            (Some("loadbalancer"), NetworkProfile::Unknown),
            (Some(""), NetworkProfile::Unknown),
            (None, NetworkProfile::Unknown),
        ] {
            assert_eq!(NetworkProfile::of(&exposed(service_type, false)), profile);
        }
    }

    #[test]
    fn ingress_wins_over_any_service_type() {
        for service_type in [
            Some("LoadBalancer"),
            Some("NodePort"),
            Some("ClusterIP"),
            None,
        ] {
            assert_eq!(
                NetworkProfile::of(&exposed(service_type, true)),
                NetworkProfile::Ingress
            );
        }
    }

    #[test]
    fn gateway_has_no_profile_of_its_own() {
        let behind_gateway = TenantControlPlane {
            gateway: Some(GatewayExposure {
                hostname: Some("c11.cluster.dev".into()),
            }),
            ..exposed(Some("ClusterIP"), false)
        };
        assert_eq!(
            NetworkProfile::of(&behind_gateway),
            NetworkProfile::ClusterIp
        );
    }

    #[test]
    fn wire_spellings() {
        let profiles = [
            NetworkProfile::Ingress,
            NetworkProfile::LoadBalancer,
            NetworkProfile::NodePort,
            NetworkProfile::ClusterIp,
            NetworkProfile::Unknown,
        ];
        assert_eq!(
            profiles.map(NetworkProfile::as_str),
            [
                "ingress",
                "load_balancer",
                "node_port",
                "cluster_ip",
                "Unknown"
            ]
        );
    }

    #[test]
    fn cluster_api_is_any_kamaji_control_plane_owner() {
        let owned_by = |kinds: &[&str]| TenantControlPlane {
            owner_references: kinds.iter().map(|kind| owner(kind)).collect(),
            ..tcp()
        };
        assert!(!is_cluster_api(&owned_by(&[])));
        assert!(!is_cluster_api(&owned_by(&[
            "Deployment",
            "kamajicontrolplane"
        ])));
        assert!(is_cluster_api(&owned_by(&["KamajiControlPlane"])));
        assert!(is_cluster_api(&owned_by(&[
            "Deployment",
            "KamajiControlPlane"
        ])));
    }
}
