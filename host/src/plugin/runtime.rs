//! The engine that every plugin of a process shares, and its epoch clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::PrecompiledCache;
use super::load::{self, LoadError};
use super::sandbox::{Plugin, SandboxLimits};

/// How often the epoch advances: the granularity of call deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How many plugin instances may be alive at once. Each call has its own
/// instance; a host runs few calls concurrently, so this is generous.
const POOLED_INSTANCES: u32 = 64;

/// A wasmtime engine configured for sandboxed plugins, with the clock that
/// enforces call deadlines.
pub struct PluginRuntime {
    engine: Engine,
    limits: SandboxLimits,
    cache: Option<PrecompiledCache>,
    epoch: Arc<EpochTicker>,
}

impl PluginRuntime {
    /// Creates the engine. `cache` keeps precompiled plugins between runs.
    pub fn new(limits: SandboxLimits, cache: Option<PrecompiledCache>) -> Result<Self, LoadError> {
        let engine = Engine::new(&engine_config(&limits)).map_err(LoadError::engine)?;
        let epoch = EpochTicker::start(engine.clone()).map_err(LoadError::engine)?;
        Ok(Self {
            engine,
            limits,
            cache,
            epoch: Arc::new(epoch),
        })
    }

    /// Compiles (or loads precompiled) and checks a plugin against the contract.
    pub fn load(&self, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let component = load::compile(&self.engine, bytes, self.cache.as_ref())?;
        let checked = load::check(&self.engine, &component)?;
        Ok(Plugin::new(
            self.engine.clone(),
            self.epoch.clone(),
            checked,
            self.limits,
            bytes,
        ))
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn engine_config(limits: &SandboxLimits) -> Config {
    let mut config = Config::new();
    // Deadlines: cheap to check, and they interrupt loops that never call out.
    config.epoch_interruption(true);
    // A fresh instance per call is cheap when its memory comes from a pool.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(POOLED_INSTANCES)
        .total_memories(POOLED_INSTANCES)
        .total_tables(POOLED_INSTANCES)
        .max_memory_size(limits.memory_bytes);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Advances the engine's epoch on a background thread until dropped. Every
/// plugin holds it, so deadlines keep firing as long as any plugin lives.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
