//! The knobs the benchmarks compare (on-demand allocation, a reused
//! instance) build exactly what the host's own path builds, and keep the
//! per-call limits.

use std::time::Duration;

mod common;

use common::{created, hostile, installation};
use kamaji_telemetry::plugin::{
    CallError, DEFAULT_PLUGIN, InstanceAllocation, PluginRuntime, SandboxLimits,
};

fn body(payload: Result<Option<kamaji_telemetry::model::Payload>, CallError>) -> String {
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
    let spin = hostile("spin");
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
