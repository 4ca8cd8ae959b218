//! The knobs the benchmarks compare (on-demand allocation, one event a call
//! or a batch in one instance) build exactly what the host's own path
//! builds, and keep the per-call limits.

use std::time::Duration;

use crate::common::{created, hostile, installation};
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
    let events: Vec<_> = ["v1.30.2", "v1.31.0-eks-1", "garbage"].map(created).into();
    let installation = installation();
    let batch = pooled.handle_batch(&installation, events.clone()).answers;
    assert_eq!(batch.len(), events.len());
    for (event, in_batch) in events.iter().zip(batch) {
        let expected = body(pooled.handle(&installation, event.clone()));
        assert_eq!(
            body(on_demand.handle(&installation, event.clone())),
            expected
        );
        assert_eq!(body(in_batch), expected);
    }
}

#[test]
fn a_batch_that_runs_past_the_deadline_fails_every_event_of_it() {
    let spin = hostile("spin");
    let limits = SandboxLimits {
        deadline: Duration::from_millis(100),
        ..SandboxLimits::default()
    };
    let runtime = PluginRuntime::new(limits, None).expect("engine");
    let plugin = runtime.load(&spin).expect("plugin");
    let events = vec![created("v1.30.2"), created("v1.31.0")];
    let answers = plugin.handle_batch(&installation(), events).answers;
    assert_eq!(answers.len(), 2);
    for answer in answers {
        assert!(matches!(answer, Err(CallError::Timeout(_))), "{answer:?}");
    }
}
