//! The knobs the benchmarks compare (on-demand allocation, a reused
//! instance) build exactly what the host's own path builds, and keep the
//! per-call limits.

use std::path::PathBuf;
use std::time::Duration;

use kamaji_telemetry::plugin::bindings::{Event, Installation, TenantControlPlane};
use kamaji_telemetry::plugin::{
    CallError, DEFAULT_PLUGIN, InstanceAllocation, PluginRuntime, SandboxLimits,
};

fn installation() -> Installation {
    Installation {
        cluster_uid: "2b3e8f7e-1f4c-4c51-9d8e-0a6f3b1c2d4e".into(),
        kamaji_version: "v1.0.0".into(),
        kubernetes_version: "v1.30.2".into(),
    }
}

fn created(version: &str) -> Event {
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

fn body(payload: Result<Option<kamaji_telemetry::plugin::bindings::Payload>, CallError>) -> String {
    payload.expect("handled").expect("a payload").body
}

#[test]
fn every_variant_builds_the_same_payloads() {
    let pooled = PluginRuntime::new(SandboxLimits::default(), None).expect("engine");
    let on_demand = PluginRuntime::with_allocation(
        SandboxLimits::default(),
        None,
        InstanceAllocation::OnDemand,
    )
    .expect("engine");
    let pooled = pooled.load(DEFAULT_PLUGIN).expect("plugin");
    let on_demand = on_demand.load(DEFAULT_PLUGIN).expect("plugin");
    let mut reused = pooled.instance().expect("instance");
    for version in ["v1.30.2", "v1.31.0-eks-1", "garbage"] {
        let event = created(version);
        let expected = body(pooled.handle(&installation(), &event));
        assert_eq!(body(on_demand.handle(&installation(), &event)), expected);
        assert_eq!(body(reused.handle(&installation(), &event)), expected);
    }
}

#[test]
fn a_reused_instance_keeps_the_deadline_of_each_call() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/components/hostile-spin.wasm");
    let spin = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("{}: {error}; run `make plugins`", path.display()));
    let limits = SandboxLimits {
        deadline: Duration::from_millis(100),
        ..SandboxLimits::default()
    };
    let runtime = PluginRuntime::new(limits, None).expect("engine");
    let plugin = runtime.load(&spin).expect("plugin");
    let mut instance = plugin.instance().expect("instance");
    let outcome = instance.handle(&installation(), &created("v1.30.2"));
    assert!(matches!(outcome, Err(CallError::Timeout(_))), "{outcome:?}");
}
