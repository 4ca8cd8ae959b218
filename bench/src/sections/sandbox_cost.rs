//! Section 2: what a fresh sandbox per call costs, and what a batch saves.

use std::hint::black_box;

use kamaji_telemetry::pipeline::MAX_BATCH;
use kamaji_telemetry::plugin::Plugin;

use crate::inputs::{self, Operation};
use crate::measure::side_by_side;
use crate::report::{Row, Section, Target, Unit};
use crate::stats::paired_differences;
use crate::{Context, progress};

pub fn measure(context: &Context, pooled: &Plugin, on_demand: &Plugin) -> Section {
    progress("sandbox cost per call");
    let mut section = Section::new("2. Per-call sandbox cost (one create event)");
    let installation = inputs::installation();
    // As the host's decoder hands it over: with only what the plugin reads.
    let mut event = inputs::single_event(&inputs::admission_stream(1, &[Operation::Create]));
    event.withhold(pooled.description().reads);
    let batch = vec![event.clone(); MAX_BATCH];
    // The clones stand for the decoder's output, which the host moves.
    let call = |plugin: &Plugin| {
        black_box(plugin.handle(&installation, event.clone())).expect("handle");
    };
    let samples = side_by_side(
        context.plan(41),
        &mut [&mut || call(on_demand), &mut || call(pooled), &mut || {
            let run = black_box(pooled.handle_batch(&installation, batch.clone()));
            assert!(
                run.answers.iter().all(Result::is_ok),
                "the batch is handled"
            );
        }],
    );
    let [on_demand, pooled, batched] = samples.as_slice() else {
        unreachable!("three contenders give three series");
    };
    let per_event: Vec<f64> = batched.iter().map(|s| s / MAX_BATCH as f64).collect();
    section.row(Row::from_samples(
        "fresh store + instance, default (on-demand) allocator",
        on_demand,
        Unit::Micros,
    ));
    section.row(
        Row::from_samples(
            "fresh store + instance, pooling allocator + InstancePre",
            pooled,
            Unit::Micros,
        )
        .target(Target::AtMost(20e-6)),
    );
    section.row(
        Row::from_samples(
            format!("per event inside a batch of {MAX_BATCH} (one instance)"),
            &per_event,
            Unit::Micros,
        )
        .target(Target::AtMost(3e-6)),
    );
    section.row(Row::from_samples(
        "a batch of one against a share of a full batch (fresh − per event)",
        &paired_differences(pooled, &per_event),
        Unit::Micros,
    ));
    section.note(
        "each figure is a whole `handle` call as the host makes it: store, limiter, epoch \
         deadline, instantiation (when fresh), lowering the event, the plugin's work, lifting \
         the payload and the output-size check",
    );
    section
}
