//! Section 3: from process start to the first payload, with and without the cache.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use kamaji_telemetry::plugin::{DEFAULT_PLUGIN, PluginRuntime, PrecompiledCache, SandboxLimits};

use crate::inputs::{self, Operation};
use crate::report::{Row, Section, Target, Unit};
use crate::{Context, progress};

pub fn measure(context: &Context) -> Section {
    let mut section = Section::new("3. Cold start");
    progress("cold start: processes");
    process_start(context, &mut section);
    progress("cold start: compile and load");
    compile_and_load(context, &mut section);
    section.note(
        "process figures are wall time from spawn to exit of `kamaji-telemetry preview` on one \
         AdmissionReview: process start, plugin load, decoding, one call, output and exit, so \
         an upper bound of the time to the first payload",
    );
    section.note(
        "empty cache: a new cache directory each run, so the plugin is compiled and the entry \
         written; compilation uses every core (wasmtime's parallel compilation)",
    );
    section
}

fn process_start(context: &Context, section: &mut Section) {
    let document = context.input(
        "one-create.json",
        &inputs::admission_stream(1, &[Operation::Create]),
    );
    let warm = context.scratch("cold-start-cache");
    let preview = |cache: Option<&Path>| {
        let mut command = context.host("preview", cache);
        command.arg(&document);
        context
            .run(&command)
            .expect("preview of one document succeeds")
            .wall
            .as_secs_f64()
    };
    // Fills the warm cache.
    preview(Some(&warm));
    let (mut hit, mut miss, mut none) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..context.runs(21) {
        hit.push(preview(Some(&warm)));
        miss.push(preview(Some(
            &context.scratch(&format!("empty-cache-{round}")),
        )));
        none.push(preview(None));
    }
    section.row(
        Row::from_samples(
            "process start → first payload, warm cache",
            &hit,
            Unit::Millis,
        )
        .target(Target::AtMost(50e-3)),
    );
    section.row(Row::from_samples(
        "process start → first payload, empty cache",
        &miss,
        Unit::Millis,
    ));
    section.row(Row::from_samples(
        "process start → first payload, --no-cache",
        &none,
        Unit::Millis,
    ));
}

fn compile_and_load(context: &Context, section: &mut Section) {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("the engine starts");
    let cache = PrecompiledCache::new(context.scratch("in-process-cache"));
    // Fills the cache, so that every timed load below is a hit.
    time_load(Some(cache.clone()));
    let (mut compile, mut from_cache, mut uncached) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..context.runs(11) {
        let start = Instant::now();
        black_box(runtime.engine().precompile_component(DEFAULT_PLUGIN))
            .expect("the plugin compiles");
        compile.push(start.elapsed().as_secs_f64());
        from_cache.push(time_load(Some(cache.clone())));
        uncached.push(time_load(None));
    }
    section.row(Row::from_samples(
        "plugin compile (Engine::precompile_component)",
        &compile,
        Unit::Millis,
    ));
    section.row(Row::from_samples(
        "in process: engine + load, warm cache",
        &from_cache,
        Unit::Millis,
    ));
    section.row(Row::from_samples(
        "in process: engine + load, no cache",
        &uncached,
        Unit::Millis,
    ));
}

/// `PluginRuntime::new` and `load`, as a process does them at start. The
/// runtime is dropped after the clock stops.
fn time_load(cache: Option<PrecompiledCache>) -> f64 {
    let start = Instant::now();
    let runtime = PluginRuntime::new(SandboxLimits::default(), cache).expect("the engine starts");
    let plugin = runtime.load(DEFAULT_PLUGIN).expect("the plugin loads");
    let elapsed = start.elapsed().as_secs_f64();
    drop((plugin, runtime));
    elapsed
}
