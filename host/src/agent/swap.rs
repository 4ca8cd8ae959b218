//! Replacing the running plugin without a restart.
//!
//! A candidate is compiled and checked against the contract (the WIT world),
//! asked to describe itself, then run against built-in self-test events: a
//! created, updated and deleted TenantControlPlane and a heartbeat. Every
//! call must succeed within the sandbox's limits, and every payload must go
//! to the event's route and pass the leak guard; the events carry
//! distinctive identifying strings, so a plugin that copies any input field
//! is caught. A plugin may deliberately send nothing for some kinds of
//! event, but it must build at least one payload. Only then is it swapped
//! in, in one atomic pointer swap (see [`Pipeline::swap`]). A candidate that
//! fails keeps the old plugin running.

use std::sync::Arc;

use super::metrics::Metrics;
use crate::leak_guard::Leak;
use crate::model::{
    DataStore, Event, Fleet, IngressExposure, Installation, KeyValue, OwnerReference, Payload,
    Route, TcpUpdate, TenantControlPlane,
};
use crate::pipeline::{self, Outcome, Pipeline};
use crate::plugin::{
    CallError, CallStats, ContractVersion, LoadError, Plugin, PluginArtifact, PluginRuntime,
};

/// What a plugin says it is, and which exact build it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// The contract version it implements.
    pub contract: ContractVersion,
    /// The SHA-256 of the component, in hex.
    pub digest: String,
    /// The OCI manifest digest (`sha256:…`) when it came from a registry.
    pub oci_digest: Option<String>,
}

impl std::fmt::Display for PluginInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self.digest.get(..12).unwrap_or(&self.digest);
        write!(
            f,
            "{} {} (contract {}, sha256 {short})",
            self.name, self.version, self.contract
        )
    }
}

/// A plugin that passed every check.
pub struct Candidate {
    pub plugin: Plugin,
    pub info: PluginInfo,
}

/// Why a candidate plugin was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("self-test `{event}`: {failure}")]
    SelfTest {
        event: &'static str,
        failure: SelfTestFailure,
    },
    #[error("self-test: it built no payload for any event, so it would send nothing at all")]
    NothingBuilt,
}

/// How a candidate failed one self-test event.
#[derive(Debug, thiserror::Error)]
pub enum SelfTestFailure {
    #[error("{0}")]
    Call(CallError),
    #[error("the payload goes to `{found}`, not `{expected}`")]
    WrongRoute {
        expected: &'static str,
        found: &'static str,
    },
    #[error("the payload goes to `{0}`, which the plugin did not declare")]
    UndeclaredRoute(&'static str),
    #[error("no payload, though the plugin declared that it sends to `{0}`")]
    MissingRoute(&'static str),
    #[error("the leak guard blocked the payload: {0}")]
    Leak(Leak),
}

/// Compiles `bytes`, checks the result against the contract and runs the
/// self-test. Synchronous CPU work: call it off the async threads.
pub fn check(runtime: &PluginRuntime, bytes: &[u8]) -> Result<Candidate, Refusal> {
    let plugin = runtime.load(bytes)?;
    run_self_test(&plugin)?;
    if !plugin.denied_imports().is_empty() {
        tracing::warn!(
            imports = ?plugin.denied_imports(),
            "the plugin imports capabilities the host does not grant; calling them traps"
        );
    }
    let description = plugin.description();
    let info = PluginInfo {
        name: description.name.clone(),
        version: description.version.clone(),
        contract: plugin.contract(),
        digest: plugin.digest().to_owned(),
        oci_digest: None,
    };
    Ok(Candidate { plugin, info })
}

/// [`check`] of a fetched plugin, whose info then names its OCI digest.
pub fn check_artifact(
    runtime: &PluginRuntime,
    artifact: &PluginArtifact,
) -> Result<Candidate, Refusal> {
    let mut candidate = check(runtime, &artifact.bytes)?;
    candidate.info.oci_digest.clone_from(&artifact.oci_digest);
    Ok(candidate)
}

/// One self-test event, as the plugin handled it.
#[derive(Debug)]
pub struct SelfTestCall {
    pub event: &'static str,
    /// The route a payload for it must take.
    pub route: Route,
    /// The payload, if any, or why the event fails the self-test.
    pub verdict: Result<Option<Payload>, SelfTestFailure>,
    pub stats: CallStats,
}

/// Runs every self-test event through `plugin` and the leak guard; returns
/// how many built a payload, at least one.
pub fn run_self_test(plugin: &Plugin) -> Result<usize, Refusal> {
    self_test_result(self_test_calls(plugin))
}

/// Runs every self-test event through `plugin` and the leak guard.
///
/// The self-test has an installation of its own, so that it tests the plugin
/// and not the agent's settings (an unset `--cluster-uid` makes the default
/// plugin refuse heartbeats, and every plugin alike).
pub fn self_test_calls(plugin: &Plugin) -> Vec<SelfTestCall> {
    let installation = self_test_installation();
    self_test_events()
        .into_iter()
        .map(|(event_name, event, route)| {
            // One event a call, so that each is measured on its own.
            let run = plugin.handle_batch(&installation, vec![event]);
            let stats = run.stats;
            let outcome = pipeline::guard(plugin, run).pop().expect("one answer");
            SelfTestCall {
                event: event_name,
                route,
                verdict: self_test_verdict(outcome, route, plugin.description().routes.as_deref()),
                stats,
            }
        })
        .collect()
}

/// Whether the self-test passed: no event failed, and one built a payload.
/// Returns how many did.
pub fn self_test_result(calls: Vec<SelfTestCall>) -> Result<usize, Refusal> {
    let mut payloads = 0;
    for call in calls {
        let built = call.verdict.map_err(|failure| Refusal::SelfTest {
            event: call.event,
            failure,
        })?;
        payloads += usize::from(built.is_some());
    }
    if payloads == 0 {
        return Err(Refusal::NothingBuilt);
    }
    Ok(payloads)
}

/// What one self-test event's outcome says: the payload, if any, or why it
/// fails. A plugin that declares its routes (contract 0.2.0 on) must send to
/// each of them and to no other; one that does not may send nothing.
fn self_test_verdict(
    outcome: Outcome,
    expected: Route,
    declared: Option<&[Route]>,
) -> Result<Option<Payload>, SelfTestFailure> {
    let is_declared = declared.is_none_or(|routes| routes.contains(&expected));
    match outcome {
        Outcome::Ready(payload) if payload.route != expected => Err(SelfTestFailure::WrongRoute {
            expected: expected.as_str(),
            found: payload.route.as_str(),
        }),
        Outcome::Ready(payload) if !is_declared => {
            Err(SelfTestFailure::UndeclaredRoute(payload.route.as_str()))
        }
        Outcome::Ready(payload) => Ok(Some(payload)),
        Outcome::Nothing if declared.is_some() && is_declared => {
            Err(SelfTestFailure::MissingRoute(expected.as_str()))
        }
        Outcome::Nothing => Ok(None),
        Outcome::Blocked(leak) => Err(SelfTestFailure::Leak(leak)),
        Outcome::Failed(error) => Err(SelfTestFailure::Call(error)),
    }
}

fn self_test_installation() -> Installation {
    Installation {
        cluster_uid: "c1a5e7e5-7a11-4f00-9b1e-5e1f7e570001".into(),
        kamaji_version: "v1.0.0".into(),
        kubernetes_version: "v1.30.2-eks-5e1f7e5".into(),
    }
}

/// The self-test events, each with the route its payload must take. The
/// update changes the Kubernetes version, so that a plugin that only reports
/// upgrades (as the default one does) has something to send.
fn self_test_events() -> [(&'static str, Event, Route); 4] {
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

/// Swaps checked candidates into the pipeline, and accounts for every attempt.
pub struct Swapper {
    runtime: Arc<PluginRuntime>,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
}

impl Swapper {
    pub fn new(
        runtime: Arc<PluginRuntime>,
        pipeline: Arc<Pipeline>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            runtime,
            pipeline,
            metrics,
        }
    }

    /// Checks the plugin on a blocking thread (compiling takes a while, and
    /// the plugin worker keeps building events with the old plugin
    /// meanwhile), then swaps the candidate in if it passed; says whether
    /// it did.
    pub async fn try_swap(&self, artifact: PluginArtifact) -> bool {
        let runtime = Arc::clone(&self.runtime);
        let origin = artifact.origin.clone();
        let checked =
            tokio::task::spawn_blocking(move || check_artifact(&runtime, &artifact)).await;
        match checked {
            Ok(Ok(candidate)) => {
                self.pipeline.swap(Arc::new(candidate.plugin));
                self.metrics.swap(true);
                self.metrics.set_plugin(&candidate.info);
                tracing::info!(plugin = %origin, "swapped in the plugin {}", candidate.info);
                true
            }
            Ok(Err(refusal)) => {
                self.refused(&origin, &refusal);
                false
            }
            Err(crash) => {
                self.metrics.swap(false);
                tracing::error!(
                    plugin = %origin,
                    "the check of the new plugin crashed, the running one stays: {crash}"
                );
                false
            }
        }
    }

    /// Counts and logs a candidate refused before or during its check.
    pub fn refused(&self, origin: &str, refusal: &dyn std::fmt::Display) {
        self.metrics.swap(false);
        tracing::error!(
            plugin = %origin,
            "refused the new plugin, the running one stays: {refusal}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::plugin::{DEFAULT_PLUGIN, SandboxLimits};

    fn runtime() -> PluginRuntime {
        let limits = SandboxLimits {
            deadline: Duration::from_millis(300),
            memory_bytes: 32 << 20,
            ..SandboxLimits::default()
        };
        PluginRuntime::new(limits, None).expect("engine")
    }

    fn hostile(kind: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../target/components/hostile-{kind}.wasm"));
        std::fs::read(&path)
            .unwrap_or_else(|error| panic!("{}: {error}; run `make plugins`", path.display()))
    }

    fn refusal(bytes: &[u8]) -> Refusal {
        match check(&runtime(), bytes) {
            Ok(candidate) => panic!("{} passed the self-test", candidate.info),
            Err(refusal) => refusal,
        }
    }

    #[test]
    fn the_default_plugin_passes_the_self_test() {
        let candidate = check(&runtime(), DEFAULT_PLUGIN).expect("it passes");
        assert_eq!(candidate.info.name, "kamaji-telemetry-default");
        assert_eq!(candidate.info.digest.len(), 64);
    }

    #[test]
    fn a_plugin_that_traps_times_out_or_grows_is_refused() {
        let cases = [
            ("trap", "trapped"),
            ("spin", "deadline"),
            ("grow", "memory"),
        ];
        for (kind, cause) in cases {
            let refusal = refusal(&hostile(kind));
            assert!(
                matches!(
                    refusal,
                    Refusal::SelfTest {
                        event: "created",
                        ..
                    }
                ),
                "{kind}: {refusal}"
            );
            assert!(refusal.to_string().contains(cause), "{kind}: {refusal}");
        }
    }

    #[test]
    fn a_plugin_that_copies_an_identifying_field_is_refused() {
        let refusal = refusal(&hostile("leak"));
        assert!(
            matches!(
                refusal,
                Refusal::SelfTest {
                    failure: SelfTestFailure::Leak(_),
                    ..
                }
            ),
            "{refusal}"
        );
    }

    #[test]
    fn a_plugin_that_sends_nothing_for_some_kinds_of_event_passes() {
        let plugin = runtime().load(&hostile("quiet")).expect("it loads");
        assert_eq!(run_self_test(&plugin).expect("it passes"), 1);
        let calls = self_test_calls(&plugin);
        let built: Vec<&str> = calls
            .iter()
            .filter(|call| matches!(call.verdict, Ok(Some(_))))
            .map(|call| call.event)
            .collect();
        assert_eq!(built, ["heartbeat"]);
    }

    #[test]
    fn a_plugin_that_sends_nothing_at_all_is_refused() {
        assert!(matches!(refusal(&hostile("silent")), Refusal::NothingBuilt));
    }

    #[test]
    fn self_test_calls_are_measured() {
        let plugin = runtime().load(DEFAULT_PLUGIN).expect("it loads");
        for call in self_test_calls(&plugin) {
            assert!(call.stats.peak_memory > 0, "{}", call.event);
            assert!(call.stats.elapsed > Duration::ZERO, "{}", call.event);
        }
    }

    #[test]
    fn a_file_that_is_no_component_is_refused() {
        assert!(matches!(
            refusal(b"not wasm"),
            Refusal::Load(LoadError::NotWasm)
        ));
    }

    #[test]
    fn each_self_test_event_carries_identifying_strings() {
        for (name, event, _) in self_test_events() {
            let body = r#"{"copied": "selftest-tcp-q7zx"}"#;
            let declared = crate::leak_guard::DeclaredWords::default();
            let leak = crate::leak_guard::find_leak(
                &declared,
                std::slice::from_ref(&event),
                &self_test_installation(),
                body,
            );
            assert!(leak.is_some(), "{name}");
        }
    }
}
