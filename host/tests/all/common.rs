//! Fixtures shared by the host's integration tests that call plugins.

use std::path::PathBuf;

use kamaji_telemetry::model::{Event, Installation, TenantControlPlane};

/// A hostile plugin built from `tests/plugins/hostile` by `make plugins`.
pub fn hostile(kind: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/components/hostile-{kind}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("{}: {error}; run `make plugins`", path.display()))
}

pub fn installation() -> Installation {
    Installation {
        cluster_uid: "2b3e8f7e-1f4c-4c51-9d8e-0a6f3b1c2d4e".into(),
        kamaji_version: "v1.0.0".into(),
        kubernetes_version: "v1.30.2".into(),
    }
}

/// A created event for a TCP that asks for `version`.
pub fn created(version: &str) -> Event {
    Event::Created(TenantControlPlane {
        name: "tenant-zeta-prod".into(),
        namespace: "customer-zeta".into(),
        uid: "7d0c6d1e-0f0e-4a43-8a53-8f7f0b1f6c11".into(),
        labels: Vec::new(),
        annotations: Vec::new(),
        owner_references: Vec::new(),
        desired_version: Some(version.into()),
        installed_version: None,
        status: None,
        service_type: Some("LoadBalancer".into()),
        ingress: None,
        gateway: None,
        network_address: None,
        endpoint: None,
        data_store: None,
    })
}
