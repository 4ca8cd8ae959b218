//! Section 2: what a fresh sandbox per call costs, three ways.

use std::hint::black_box;

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
    let event = inputs::single_event(&inputs::admission_stream(1, &[Operation::Create]));
    let mut reused = pooled.instance().expect("the plugin instantiates");
    let call = |plugin: &Plugin| {
        black_box(plugin.handle(&installation, &event)).expect("handle");
    };
    let samples = side_by_side(
        context.plan(41),
        &mut [&mut || call(on_demand), &mut || call(pooled), &mut || {
            black_box(reused.handle(&installation, &event)).expect("handle");
        }],
    );
    let [on_demand, pooled, reused] = samples.as_slice() else {
        unreachable!("three contenders give three series");
    };
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
    section.row(Row::from_samples(
        "one reused instance",
        reused,
        Unit::Micros,
    ));
    section.row(Row::from_samples(
        "instantiation alone, on-demand (fresh − reused)",
        &paired_differences(on_demand, reused),
        Unit::Micros,
    ));
    section.row(Row::from_samples(
        "instantiation alone, pooling (fresh − reused)",
        &paired_differences(pooled, reused),
        Unit::Micros,
    ));
    section.note(
        "each figure is a whole `handle` call as the host makes it: store, limiter, epoch \
         deadline, instantiation (when fresh), lowering the event, the plugin's work, lifting \
         the payload and the output-size check",
    );
    section
}
