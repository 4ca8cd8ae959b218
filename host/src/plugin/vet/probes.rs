//! The self-test's events: a created, updated and deleted
//! TenantControlPlane and a heartbeat, whose every identifying field holds a
//! distinctive string, so that a plugin that copies any input field is
//! caught by the leak guard.

use crate::model::{
    DataStore, Event, Fleet, IngressExposure, Installation, KeyValue, OwnerReference, Route,
    TcpUpdate, TenantControlPlane,
};

/// The self-test has an installation of its own, so that it tests the plugin
/// and not the agent's settings (an unset `--cluster-uid` makes the default
/// plugin refuse heartbeats, and every plugin alike).
pub(super) fn self_test_installation() -> Installation {
    Installation {
        cluster_uid: "c1a5e7e5-7a11-4f00-9b1e-5e1f7e570001".into(),
        kamaji_version: "v1.0.0".into(),
        kubernetes_version: "v1.30.2-eks-5e1f7e5".into(),
    }
}

/// The self-test events, each with the route its payload must take. The
/// update changes the Kubernetes version, so that a plugin that only reports
/// upgrades (as the default one does) has something to send.
pub(super) fn self_test_events() -> [(&'static str, Event, Route); 4] {
    let before = probe_tcp("v1.30.5", Some("v1.30.5"), "Ready");
    let after = probe_tcp("v1.31.2", Some("v1.30.5"), "Upgrading");
    let fleet = Fleet {
        tenant_control_planes: vec![after.clone(), probe_tcp("v1.29.9", None, "Sleeping")],
        data_stores: vec![DataStore {
            name: "selftest-datastore-w5cb".into(),
            driver: "etcd".into(),
            used_by: vec!["selftest-ns-k3vd/selftest-tcp-q7zx".into()],
        }],
    };
    [
        ("created", Event::Created(after.clone()), Route::Create),
        (
            "updated",
            Event::Updated(TcpUpdate {
                previous: before.clone(),
                current: after,
            }),
            Route::Update,
        ),
        ("deleted", Event::Deleted(before), Route::Delete),
        ("heartbeat", Event::Heartbeat(fleet), Route::Stats),
    ]
}

/// A TenantControlPlane whose every identifying field is set to a string
/// that no legitimate body contains.
fn probe_tcp(desired: &str, installed: Option<&str>, status: &str) -> TenantControlPlane {
    let pair = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: value.into(),
    };
    TenantControlPlane {
        name: "selftest-tcp-q7zx".into(),
        namespace: "selftest-ns-k3vd".into(),
        uid: "5e1f7e57-9c1d-4b7a-8e2f-3d4c5b6a7f80".into(),
        labels: vec![pair("selftest-label-p2mr", "selftest-value-h6tn")],
        annotations: vec![pair("selftest.example/owner", "selftest-team-b9yq")],
        owner_references: vec![OwnerReference {
            api_version: "controlplane.cluster.x-k8s.io/v1alpha1".into(),
            kind: "KamajiControlPlane".into(),
            name: "selftest-owner-j4hs".into(),
            uid: "0b9e6c3a-5f2d-4e1b-a7c8-9d0e1f2a3b4c".into(),
        }],
        desired_version: Some(desired.into()),
        installed_version: installed.map(Into::into),
        status: Some(status.into()),
        service_type: Some("LoadBalancer".into()),
        ingress: Some(IngressExposure {
            hostname: Some("selftest-k8s.example.invalid".into()),
            class_name: Some("nginx".into()),
        }),
        gateway: None,
        network_address: Some("198.51.100.73".into()),
        endpoint: Some("198.51.100.73:6443".into()),
        data_store: Some("selftest-datastore-w5cb".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak_guard::{DeclaredWords, find_leak};

    #[test]
    fn each_self_test_event_carries_identifying_strings() {
        for (name, event, _) in self_test_events() {
            let body = r#"{"copied": "selftest-tcp-q7zx"}"#;
            let leak = find_leak(
                &DeclaredWords::default(),
                std::slice::from_ref(&event),
                &self_test_installation(),
                body,
            );
            assert!(leak.is_some(), "{name}");
        }
    }
}
