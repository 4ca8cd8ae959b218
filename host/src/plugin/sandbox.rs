//! One call into a plugin: a fresh store, a deadline, a memory cap, an
//! output cap and a closed WASI profile. A call that breaks any of them
//! fails alone; the host goes on.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{Description, Event, Installation, Payload, TelemetryPlugin};
use super::load::{CheckedPlugin, LoadError};
use super::runtime::{EPOCH_TICK, EpochTicker};
use crate::leak_guard::DeclaredWords;

/// The bounds of every call into a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Wall-clock time a call may run, instantiation included.
    pub deadline: Duration,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Bytes a call may return (body and redaction report together).
    pub output_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            // A heartbeat over 100k TCPs takes well under a second.
            deadline: Duration::from_secs(2),
            // The fleet snapshot is copied into the plugin's memory: 100k TCPs
            // with labels and annotations fit in a few hundred MiB.
            memory_bytes: 512 << 20,
            output_bytes: 64 << 10,
        }
    }
}

/// Why a call into a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the plugin ran past its deadline of {0:?} and was stopped")]
    Timeout(Duration),
    #[error("the plugin tried to grow its memory past the cap of {cap} bytes")]
    MemoryCap { cap: usize },
    #[error("the plugin returned {size} bytes, more than the cap of {cap}")]
    OutputTooLarge { size: usize, cap: usize },
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin could not be instantiated: {0}")]
    Instantiate(String),
    #[error("the plugin refused the event: {0}")]
    Refused(String),
}

/// The state of one call's store: its resource limits, the most memory the
/// call asked for, and the closed WASI profile the plugin sees.
pub struct Sandbox {
    memory_cap: usize,
    memory_cap_hit: bool,
    peak_memory: usize,
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

/// What a plugin may print on stdout and on stderr in one call; past it,
/// its writes fail.
const CAPTURED_OUTPUT_BYTES: usize = 16 << 10;

impl Sandbox {
    pub(crate) fn new(memory_cap: usize) -> Self {
        let stdout = MemoryOutputPipe::new(CAPTURED_OUTPUT_BYTES);
        let stderr = MemoryOutputPipe::new(CAPTURED_OUTPUT_BYTES);
        // Closed: a new builder has no environment, no arguments, no
        // preopened directory and an empty stdin, and sockets and name
        // lookups are turned off here. Clocks and random stay: they reveal
        // nothing about the cluster, and std-built plugins need them.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            memory_cap,
            memory_cap_hit: false,
            peak_memory: 0,
            wasi,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// What one call cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStats {
    /// Wall-clock time, instantiation included.
    pub elapsed: Duration,
    /// The largest linear memory the instance had (or asked for), in bytes.
    pub peak_memory: usize,
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            // Trapping at once (rather than failing the grow) names the cause,
            // instead of leaving the guest's allocator to abort obscurely.
            self.memory_cap_hit = true;
            wasmtime::bail!("memory cap of {} bytes reached", self.memory_cap);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Plenty for any plugin's function table; bounds a plugin that grows it in a loop.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// A loaded, checked plugin. Cheap to call from several threads at once:
/// every call gets its own instance.
pub struct Plugin {
    engine: Engine,
    _epoch: Arc<EpochTicker>,
    checked: CheckedPlugin,
    limits: SandboxLimits,
    digest: String,
    /// What its description declares, for the leak guard.
    declared: DeclaredWords,
    /// From the first successful `describe`, to name the plugin in logs.
    name: OnceLock<String>,
}

impl Plugin {
    pub(crate) fn new(
        engine: Engine,
        epoch: Arc<EpochTicker>,
        checked: CheckedPlugin,
        limits: SandboxLimits,
        bytes: &[u8],
    ) -> Result<Self, LoadError> {
        let digest = hex::encode(Sha256::digest(bytes));
        let mut plugin = Self {
            engine,
            _epoch: epoch,
            checked,
            limits,
            digest,
            declared: DeclaredWords::default(),
            name: OnceLock::new(),
        };
        // Asked once, before the plugin sees any input: the words it
        // declares then are no copy of input (the leak guard's rule 4).
        let description = plugin.describe().map_err(LoadError::Describe)?;
        plugin.declared = DeclaredWords::of(&description);
        Ok(plugin)
    }

    /// The SHA-256 of the component, in hex.
    pub fn digest(&self) -> &str {
        &self.digest
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

    /// Asks the plugin to describe itself.
    pub fn describe(&self) -> Result<Description, CallError> {
        let description =
            self.call(|plugin, store| plugin.kamaji_telemetry_plugin().call_describe(store))?;
        let size = description
            .fields
            .iter()
            .map(|field| field.meaning.len() + field.example.len() + field.name.len())
            .sum();
        self.check_output_size(size)?;
        let _ = self.name.set(description.name.clone());
        Ok(description)
    }

    /// Turns one event into zero or one payload.
    pub fn handle(
        &self,
        installation: &Installation,
        event: &Event,
    ) -> Result<Option<Payload>, CallError> {
        self.handle_measured(installation, event).0
    }

    /// [`Plugin::handle`], and what the call cost.
    pub fn handle_measured(
        &self,
        installation: &Installation,
        event: &Event,
    ) -> (Result<Option<Payload>, CallError>, CallStats) {
        let (result, stats) = self.call_measured(|plugin, store| {
            plugin
                .kamaji_telemetry_plugin()
                .call_handle(store, installation, event)
        });
        (
            result.and_then(|result| self.checked_payload(result)),
            stats,
        )
    }

    /// One instance for many calls, for hosts that trade the isolation of a
    /// fresh instance per call for speed; see [`PluginInstance`]. This host
    /// does not: the benchmarks use it to measure what that isolation costs.
    pub fn instance(&self) -> Result<PluginInstance<'_>, CallError> {
        let (store, bindings) = self.instantiate()?;
        Ok(PluginInstance {
            plugin: self,
            store,
            bindings,
        })
    }

    /// Runs `f` against a fresh instance in a fresh store under the limits.
    fn call<R>(
        &self,
        f: impl FnOnce(&TelemetryPlugin, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.call_measured(f).0
    }

    fn call_measured<R>(
        &self,
        f: impl FnOnce(&TelemetryPlugin, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, CallStats) {
        let started = Instant::now();
        let (result, peak_memory) = match self.instantiate() {
            Ok((mut store, plugin)) => {
                let result = f(&plugin, &mut store)
                    .map_err(|error| self.classify(&store, error, CallError::Trap));
                self.log_output(store.data());
                (result, store.data().peak_memory)
            }
            // Instantiation grows no memory that outlives the failure.
            Err(error) => (Err(error), 0),
        };
        let stats = CallStats {
            elapsed: started.elapsed(),
            peak_memory,
        };
        (result, stats)
    }

    fn instantiate(&self) -> Result<(Store<Sandbox>, TelemetryPlugin), CallError> {
        let mut store = self.fresh_store();
        let plugin = self
            .checked
            .pre
            .instantiate(&mut store)
            .map_err(|error| self.classify(&store, error, CallError::Instantiate))?;
        Ok((store, plugin))
    }

    /// What `handle` returns once the plugin has answered.
    fn checked_payload(
        &self,
        result: Result<Option<Payload>, String>,
    ) -> Result<Option<Payload>, CallError> {
        let payload = result.map_err(CallError::Refused)?;
        if let Some(payload) = &payload {
            self.check_output_size(payload_size(payload))?;
        }
        Ok(payload)
    }

    fn fresh_store(&self) -> Store<Sandbox> {
        let mut store = Store::new(&self.engine, Sandbox::new(self.limits.memory_bytes));
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
        if store.data().memory_cap_hit {
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
        for (stream, pipe) in [("stdout", &sandbox.stdout), ("stderr", &sandbox.stderr)] {
            let printed = pipe.contents();
            if !printed.is_empty() {
                tracing::info!(
                    plugin = %self.name(),
                    stream,
                    "{}",
                    String::from_utf8_lossy(&printed).trim_end()
                );
            }
        }
    }

    /// The name the plugin gave itself, once it was asked; its digest before.
    fn name(&self) -> &str {
        self.name.get().map_or_else(
            || self.digest.get(..12).unwrap_or(&self.digest),
            String::as_str,
        )
    }

    fn check_output_size(&self, size: usize) -> Result<(), CallError> {
        if size > self.limits.output_bytes {
            return Err(CallError::OutputTooLarge {
                size,
                cap: self.limits.output_bytes,
            });
        }
        Ok(())
    }
}

/// One plugin instance, in one store, called again and again.
///
/// It skips instantiation, but it gives up what a fresh instance per call
/// guarantees: whatever one call leaves in the instance's memory, the next
/// call sees, and the memory cap bounds the instance's whole life rather than
/// one call. Each call still has the full deadline and the output cap. After
/// an error, drop it: an instance that trapped cannot be entered again.
pub struct PluginInstance<'a> {
    plugin: &'a Plugin,
    store: Store<Sandbox>,
    bindings: TelemetryPlugin,
}

impl PluginInstance<'_> {
    /// Turns one event into zero or one payload, as [`Plugin::handle`] does.
    pub fn handle(
        &mut self,
        installation: &Installation,
        event: &Event,
    ) -> Result<Option<Payload>, CallError> {
        let plugin = self.plugin;
        self.store
            .set_epoch_deadline(deadline_ticks(plugin.limits.deadline));
        let result = self
            .bindings
            .kamaji_telemetry_plugin()
            .call_handle(&mut self.store, installation, event)
            .map_err(|error| plugin.classify(&self.store, error, CallError::Trap))?;
        plugin.checked_payload(result)
    }
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
