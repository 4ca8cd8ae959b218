//! The sandbox of one call: the state of its store (its resource limits,
//! the most memory it asked for, and the closed WASI profile the plugin
//! sees), and the bounds every call runs under.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

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

    /// Whether the call tried to grow its memory past the cap.
    pub(crate) fn memory_cap_hit(&self) -> bool {
        self.memory_cap_hit
    }

    /// The largest linear memory the call had (or asked for), in bytes.
    pub(crate) fn peak_memory(&self) -> usize {
        self.peak_memory
    }

    /// What the call printed, by stream.
    pub(crate) fn printed(&self) -> [(&'static str, &MemoryOutputPipe); 2] {
        [("stdout", &self.stdout), ("stderr", &self.stderr)]
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
