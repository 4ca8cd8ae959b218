//! A loaded plugin, and every call into it: a fresh store, a deadline, a
//! memory cap, an output cap and a closed WASI profile. A call that breaks
//! any of them fails alone; the host goes on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Store, Trap};

use super::contract::{Answer, ContractInstance};
use super::contract_version::ContractVersion;
use super::epoch::{EPOCH_TICK, EpochTicker};
use super::error::{CallError, LoadError};
use super::load::CheckedPlugin;
use super::sandbox::{Sandbox, SandboxLimits};
use crate::leak_guard::DeclaredWords;
use crate::model::{Description, Event, Installation, Payload};
use crate::withhold::Shown;

/// What one call cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStats {
    /// Wall-clock time, instantiation included.
    pub elapsed: Duration,
    /// The largest linear memory the instance had (or asked for), in bytes.
    pub peak_memory: usize,
}

/// A loaded, checked plugin. Cheap to call from several threads at once:
/// every call gets its own instance.
pub struct Plugin {
    engine: Engine,
    _epoch: Arc<EpochTicker>,
    checked: CheckedPlugin,
    limits: SandboxLimits,
    digest: String,
    /// The OCI manifest digest (`sha256:…`) when it came from a registry.
    oci_digest: Option<String>,
    /// What it said of itself when it was loaded, before it saw any input.
    description: Description,
    /// The words of that description, for the leak guard.
    declared: DeclaredWords,
}

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

/// A batch of events as one plugin call handled it.
#[derive(Debug)]
pub struct BatchRun {
    /// What the plugin was shown: only the fields it declared it reads. The
    /// leak guard checks the bodies against these.
    pub shown: Shown,
    /// One answer per event, in order.
    pub answers: Vec<Result<Option<Payload>, CallError>>,
    pub stats: CallStats,
}

impl Plugin {
    pub(crate) fn new(
        engine: Engine,
        epoch: Arc<EpochTicker>,
        checked: CheckedPlugin,
        limits: SandboxLimits,
        bytes: &[u8],
        oci_digest: Option<String>,
    ) -> Result<Self, LoadError> {
        let digest = hex::encode(Sha256::digest(bytes));
        // Asked once, before the plugin sees any input: the words it
        // declares then are no copy of input (the leak guard's rule 4).
        let description = self_description(&engine, &checked, &limits, &digest)?;
        Ok(Self {
            declared: DeclaredWords::of(&description),
            engine,
            _epoch: epoch,
            checked,
            limits,
            digest,
            oci_digest,
            description,
        })
    }

    /// The SHA-256 of the component, in hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// What it is, and which exact build.
    pub fn info(&self) -> PluginInfo {
        PluginInfo {
            name: self.description.name.clone(),
            version: self.description.version.clone(),
            contract: self.contract(),
            digest: self.digest.clone(),
            oci_digest: self.oci_digest.clone(),
        }
    }

    /// The contract version it implements.
    pub fn contract(&self) -> ContractVersion {
        self.checked.pre.version()
    }

    /// What it said of itself when it was loaded.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Imports outside the contract (`wasi:*`, say) that were linked to traps.
    pub fn denied_imports(&self) -> &[String] {
        &self.checked.denied_imports
    }

    /// The words its description declared when it was loaded.
    pub fn declared_words(&self) -> &DeclaredWords {
        &self.declared
    }

    /// Every import of the component, by name.
    pub fn imports(&self) -> &[String] {
        &self.checked.imports
    }

    /// Every export of the component, by name.
    pub fn exports(&self) -> &[String] {
        &self.checked.exports
    }

    /// The limits each call runs under.
    pub fn limits(&self) -> SandboxLimits {
        self.limits
    }

    /// Turns one event into zero or one payload: a batch of one.
    pub fn handle(
        &self,
        installation: &Installation,
        event: Event,
    ) -> Result<Option<Payload>, CallError> {
        let mut run = self.handle_batch(installation, vec![event]);
        run.answers.pop().unwrap_or(Err(CallError::AnswerCount {
            expected: 1,
            found: 0,
        }))
    }

    /// Turns each event into zero or one payload, in one fresh instance,
    /// showing the plugin only the input fields it declared it reads: the
    /// events are taken, and the others emptied in place, not copied.
    ///
    /// A failure of the whole call (a trap, the deadline, the memory cap) is
    /// every event's answer; a refusal or an oversized payload is only its
    /// event's.
    pub fn handle_batch(&self, installation: &Installation, events: Vec<Event>) -> BatchRun {
        let count = events.len();
        let shown = Shown::to(self.description.reads, installation.clone(), events);
        let (result, stats) = call(self, |instance, store| {
            instance.handle_batch(store, &shown.installation, &shown.events)
        });
        let answers = match result {
            Ok(answers) if answers.len() == count => answers
                .into_iter()
                .map(|answer| self.checked_answer(answer))
                .collect(),
            Ok(answers) => vec![
                Err(CallError::AnswerCount {
                    expected: count,
                    found: answers.len(),
                });
                count
            ],
            Err(error) => vec![Err(error); count],
        };
        BatchRun {
            shown,
            answers,
            stats,
        }
    }

    /// What an answer becomes once its size is checked.
    fn checked_answer(&self, answer: Answer) -> Result<Option<Payload>, CallError> {
        let payload = answer.map_err(CallError::Refused)?;
        if let Some(payload) = &payload {
            check_output_size(&self.limits, payload_size(payload))?;
        }
        Ok(payload)
    }

    /// The name it gave itself, for logs.
    fn name(&self) -> &str {
        &self.description.name
    }
}

/// Asks a plugin being loaded to describe itself.
fn self_description(
    engine: &Engine,
    checked: &CheckedPlugin,
    limits: &SandboxLimits,
    digest: &str,
) -> Result<Description, LoadError> {
    let caller = Caller {
        engine,
        checked,
        limits,
        // Until it has described itself, a plugin is named by its digest.
        name: digest.get(..12).unwrap_or(digest),
    };
    let (description, _) = caller.call(|instance, store| instance.describe(store));
    let description = description.map_err(LoadError::Describe)?;
    let size = description
        .fields
        .iter()
        .map(|field| field.meaning.len() + field.example.len() + field.name.len())
        .sum();
    check_output_size(limits, size).map_err(LoadError::Describe)?;
    Ok(description)
}

/// Runs `f` against a fresh instance of `plugin` in a fresh store.
fn call<R>(
    plugin: &Plugin,
    f: impl FnOnce(&ContractInstance, &mut Store<Sandbox>) -> wasmtime::Result<R>,
) -> (Result<R, CallError>, CallStats) {
    Caller {
        engine: &plugin.engine,
        checked: &plugin.checked,
        limits: &plugin.limits,
        name: plugin.name(),
    }
    .call(f)
}

/// What a call needs: the engine, the checked component, the limits, and a
/// name to log its output under.
struct Caller<'p> {
    engine: &'p Engine,
    checked: &'p CheckedPlugin,
    limits: &'p SandboxLimits,
    name: &'p str,
}

impl Caller<'_> {
    /// Runs `f` against a fresh instance in a fresh store under the limits.
    fn call<R>(
        &self,
        f: impl FnOnce(&ContractInstance, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, CallStats) {
        let started = Instant::now();
        let mut store = self.fresh_store();
        let result = self
            .checked
            .pre
            .instantiate(&mut store)
            .map_err(|error| self.classify(&store, error, CallError::Instantiate))
            .and_then(|instance| {
                f(&instance, &mut store)
                    .map_err(|error| self.classify(&store, error, CallError::Trap))
            });
        self.log_output(store.data());
        let stats = CallStats {
            elapsed: started.elapsed(),
            peak_memory: store.data().peak_memory(),
        };
        (result, stats)
    }

    fn fresh_store(&self) -> Store<Sandbox> {
        let mut store = Store::new(self.engine, Sandbox::new(self.limits.memory_bytes));
        store.limiter(|sandbox| sandbox);
        store.set_epoch_deadline(deadline_ticks(self.limits.deadline));
        store.epoch_deadline_trap();
        store
    }

    fn classify(
        &self,
        store: &Store<Sandbox>,
        error: wasmtime::Error,
        otherwise: fn(String) -> CallError,
    ) -> CallError {
        if store.data().memory_cap_hit() {
            CallError::MemoryCap {
                cap: self.limits.memory_bytes,
            }
        } else if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            CallError::Timeout(self.limits.deadline)
        } else {
            otherwise(format!("{error:#}"))
        }
    }

    /// Logs what the call printed, under the plugin's name: its own
    /// diagnostics, which go nowhere else.
    fn log_output(&self, sandbox: &Sandbox) {
        for (stream, pipe) in sandbox.printed() {
            let printed = pipe.contents();
            if !printed.is_empty() {
                tracing::info!(
                    plugin = %self.name,
                    stream,
                    "{}",
                    String::from_utf8_lossy(&printed).trim_end()
                );
            }
        }
    }
}

fn check_output_size(limits: &SandboxLimits, size: usize) -> Result<(), CallError> {
    if size > limits.output_bytes {
        return Err(CallError::OutputTooLarge {
            size,
            cap: limits.output_bytes,
        });
    }
    Ok(())
}

fn payload_size(payload: &Payload) -> usize {
    let report: usize = payload
        .redactions
        .iter()
        .map(|redaction| redaction.field.len() + redaction.reason.len())
        .sum();
    payload.body.len() + report
}

/// The deadline in epoch ticks, rounded up, and at least one tick.
fn deadline_ticks(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let ticks = deadline.as_nanos().div_ceil(tick).max(1);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}
