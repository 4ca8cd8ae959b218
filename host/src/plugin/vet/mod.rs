//! Vetting a plugin: everything `serve` checks before it takes a plugin, at
//! start and at every swap, and what `plugin check` reports.
//!
//! The plugin is compiled and checked against the contract (the WIT world),
//! asked to describe itself, then run against built-in self-test events
//! ([`probes`]): a created, updated and deleted TenantControlPlane and a
//! heartbeat. Every call must succeed within the sandbox's limits, and every
//! payload must go to the event's route and pass the leak guard; the events
//! carry distinctive identifying strings, so a plugin that copies any input
//! field is caught. A plugin may deliberately send nothing for some kinds of
//! event, but it must build at least one payload.

mod probes;

use std::time::{Duration, Instant};

use crate::leak_guard::Leak;
use crate::model::{Payload, Route};

use super::artifact::PluginArtifact;
use super::error::{CallError, LoadError};
use super::guarded::{Outcome, guard};
use super::loaded::{CallStats, Plugin};
use super::runtime::PluginRuntime;
use probes::{self_test_events, self_test_installation};

/// Why a plugin was refused.
#[derive(Debug, Clone, thiserror::Error)]
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

/// How a plugin failed one self-test event.
#[derive(Debug, Clone, thiserror::Error)]
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

/// What vetting found out about a plugin.
pub struct Vetting {
    /// Compiling the plugin and checking it against the contract.
    pub load_time: Duration,
    /// The plugin and how it handled each self-test event, or why it did not load.
    pub tested: Result<SelfTested, LoadError>,
}

/// A plugin that loaded, and how it handled each self-test event.
pub struct SelfTested {
    pub plugin: Plugin,
    pub calls: Vec<SelfTestCall>,
}

/// Loads the plugin (compiling it and checking it against the contract) and
/// runs the self-test. Synchronous CPU work: call it off the async threads.
pub fn vet(runtime: &PluginRuntime, artifact: &PluginArtifact) -> Vetting {
    let started = Instant::now();
    let loaded = runtime.load_artifact(artifact);
    let load_time = started.elapsed();
    let tested = loaded.map(|plugin| SelfTested {
        calls: self_test_calls(&plugin),
        plugin,
    });
    Vetting { load_time, tested }
}

impl Vetting {
    /// Why `serve` refuses the plugin; `None` when it takes it.
    pub fn refusal(&self) -> Option<Refusal> {
        match &self.tested {
            Ok(tested) => tested.refusal(),
            Err(error) => Some(Refusal::Load(error.clone())),
        }
    }

    /// The plugin, if `serve` takes it.
    pub fn accepted(self) -> Result<Plugin, Refusal> {
        let tested = self.tested?;
        if let Some(refusal) = tested.refusal() {
            return Err(refusal);
        }
        let plugin = tested.plugin;
        if !plugin.denied_imports().is_empty() {
            tracing::warn!(
                imports = ?plugin.denied_imports(),
                "the plugin imports capabilities the host does not grant; calling them traps"
            );
        }
        Ok(plugin)
    }
}

impl SelfTested {
    /// Why the self-test fails: the first event that failed, else that no
    /// event built a payload.
    fn refusal(&self) -> Option<Refusal> {
        let failed = self.calls.iter().find_map(|call| {
            let failure = call.verdict.as_ref().err()?;
            Some(Refusal::SelfTest {
                event: call.event,
                failure: failure.clone(),
            })
        });
        failed.or_else(|| (self.payloads() == 0).then_some(Refusal::NothingBuilt))
    }

    /// How many self-test events built a payload.
    fn payloads(&self) -> usize {
        self.calls
            .iter()
            .filter(|call| matches!(call.verdict, Ok(Some(_))))
            .count()
    }
}

/// Runs every self-test event through `plugin` and the leak guard, one event
/// a call, so that each is measured on its own.
fn self_test_calls(plugin: &Plugin) -> Vec<SelfTestCall> {
    let installation = self_test_installation();
    let declared = plugin.description().routes.as_deref();
    self_test_events()
        .into_iter()
        .map(|(event_name, event, route)| {
            let run = plugin.handle_batch(&installation, vec![event]);
            let stats = run.stats;
            let outcome = guard(plugin, run).pop().expect("one answer");
            SelfTestCall {
                event: event_name,
                route,
                verdict: self_test_verdict(outcome, route, declared),
                stats,
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plugin::SandboxLimits;

    fn runtime() -> PluginRuntime {
        let limits = SandboxLimits {
            deadline: Duration::from_millis(300),
            memory_bytes: 32 << 20,
            ..SandboxLimits::default()
        };
        PluginRuntime::new(limits, None).expect("engine")
    }

    fn hostile(kind: &str) -> PluginArtifact {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../target/components/hostile-{kind}.wasm"));
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|error| panic!("{}: {error}; run `make plugins`", path.display()));
        PluginArtifact::file(&path, bytes)
    }

    fn refusal(artifact: &PluginArtifact) -> Refusal {
        match vet(&runtime(), artifact).accepted() {
            Ok(plugin) => panic!("{} passed the self-test", plugin.info()),
            Err(refusal) => refusal,
        }
    }

    #[test]
    fn the_default_plugin_passes_the_self_test() {
        let plugin = vet(&runtime(), &PluginArtifact::embedded())
            .accepted()
            .expect("it passes");
        assert_eq!(plugin.info().name, "kamaji-telemetry-default");
        assert_eq!(plugin.info().digest.len(), 64);
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
        let vetting = vet(&runtime(), &hostile("quiet"));
        assert!(vetting.refusal().is_none(), "{:?}", vetting.refusal());
        let tested = vetting.tested.expect("it loads");
        assert_eq!(tested.payloads(), 1);
        let built: Vec<&str> = tested
            .calls
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
        let tested = vet(&runtime(), &PluginArtifact::embedded())
            .tested
            .expect("it loads");
        for call in tested.calls {
            assert!(call.stats.peak_memory > 0, "{}", call.event);
            assert!(call.stats.elapsed > Duration::ZERO, "{}", call.event);
        }
    }

    #[test]
    fn a_file_that_is_no_component_is_refused() {
        let artifact = PluginArtifact::file(Path::new("not.wasm"), b"not wasm".to_vec());
        assert!(matches!(
            refusal(&artifact),
            Refusal::Load(LoadError::NotWasm)
        ));
    }

    #[test]
    fn a_pulled_plugin_names_its_oci_digest() {
        let mut artifact = PluginArtifact::embedded();
        artifact.oci_digest = Some("sha256:0d".into());
        let plugin = vet(&runtime(), &artifact).accepted().expect("it passes");
        assert_eq!(plugin.info().oci_digest.as_deref(), Some("sha256:0d"));
    }
}
