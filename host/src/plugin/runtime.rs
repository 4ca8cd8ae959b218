//! The engine that every plugin of a process shares, and its epoch clock.

use std::sync::Arc;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::artifact::PluginArtifact;
use super::cache::PrecompiledCache;
use super::epoch::EpochTicker;
use super::error::LoadError;
use super::load;
use super::loaded::Plugin;
use super::sandbox::SandboxLimits;

/// How many plugin instances may be alive at once. Each call has its own
/// instance; a host runs few calls concurrently, so this is generous.
const POOLED_INSTANCES: u32 = 64;

/// Idle pool slots that keep their memory warm for the next instance.
const WARM_SLOTS: u32 = 4;

/// The memory of a pool slot that stays mapped between instances: more than
/// a lifecycle event touches (stack, data, a small heap).
const KEEP_RESIDENT_MEMORY: usize = 1 << 20;

/// The same for the slot's function table.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// Where plugin instances get their memory and tables from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceAllocation {
    /// Slots reserved once and recycled: what the host uses, since every call
    /// instantiates the plugin afresh.
    #[default]
    Pooling,
    /// wasmtime's default: mapped and unmapped for each instance. Kept so that
    /// the benchmarks can measure what pooling saves.
    OnDemand,
}

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
        Self::with_allocation(limits, cache, InstanceAllocation::default())
    }

    /// Creates the engine with the given instance allocation strategy.
    pub fn with_allocation(
        limits: SandboxLimits,
        cache: Option<PrecompiledCache>,
        allocation: InstanceAllocation,
    ) -> Result<Self, LoadError> {
        let config = engine_config(&limits, allocation);
        let engine = Engine::new(&config).map_err(LoadError::engine)?;
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
        self.load_pulled_as(bytes, None)
    }

    /// [`Self::load`] of a fetched plugin, whose info then names the OCI
    /// manifest digest it was pulled as.
    pub fn load_artifact(&self, artifact: &PluginArtifact) -> Result<Plugin, LoadError> {
        self.load_pulled_as(&artifact.bytes, artifact.oci_digest.clone())
    }

    fn load_pulled_as(
        &self,
        bytes: &[u8],
        oci_digest: Option<String>,
    ) -> Result<Plugin, LoadError> {
        let component = load::compile(&self.engine, bytes, self.cache.as_ref())?;
        let checked = load::link(&self.engine, &component)?;
        Plugin::new(
            self.engine.clone(),
            self.epoch.clone(),
            checked,
            self.limits,
            bytes,
            oci_digest,
        )
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn engine_config(limits: &SandboxLimits, allocation: InstanceAllocation) -> Config {
    let mut config = Config::new();
    // Deadlines: cheap to check, and they interrupt loops that never call out.
    config.epoch_interruption(true);
    if allocation == InstanceAllocation::Pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(limits)));
    }
    config
}

/// A fresh instance per call is cheap when its memory comes from a pool.
fn pool(limits: &SandboxLimits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(POOLED_INSTANCES)
        .total_memories(POOLED_INSTANCES)
        .total_tables(POOLED_INSTANCES)
        .max_memory_size(limits.memory_bytes);
    // Between two instances a slot is reset. By default wasmtime discards the
    // pages the last instance dirtied, and the next one faults them in again:
    // a third of a small call. Where the kernel can list the dirty pages
    // (PAGEMAP_SCAN, Linux 6.7+) only those are rewritten in place, which
    // took a create event from about 35 to 20 µs (BENCHMARKS.md). Without
    // it, keeping pages means rewriting the whole kept region, which costs
    // more than the faults it saves.
    // Reuse the slots already warm rather than cycle through cold ones: with
    // wasmtime's default (100, more than the pool has) every slot is used in
    // turn and keeps its resident pages, up to 64 MiB of RSS for a process
    // that never runs more than a call or two at once.
    pool.max_unused_warm_slots(WARM_SLOTS);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
            .table_keep_resident(KEEP_RESIDENT_TABLE);
    }
    pool
}
