//! Section 1: the same plugin logic, compiled natively and run as a component.

use std::hint::black_box;

use kamaji_telemetry::model::Event;
use kamaji_telemetry::plugin::Plugin;
use kamaji_telemetry_plugin as guest;

use super::time_unit;
use crate::inputs::{self, Operation};
use crate::measure::side_by_side;
use crate::report::{Row, Section, Target, Unit};
use crate::stats::paired_ratios;
use crate::{Context, progress};

pub fn measure(context: &Context, plugin: &Plugin) -> Section {
    let mut section = Section::new("1. Plugin: wasm against native");
    let create = Case {
        name: "create event".into(),
        event: inputs::single_event(&inputs::admission_stream(1, &[Operation::Create])),
        rounds: 31,
        target: None,
    };
    compare(context, plugin, &mut section, &create);
    for (tcps, label) in [(1_000, "1k"), (10_000, "10k"), (100_000, "100k")] {
        let heartbeat = Case {
            name: format!("heartbeat, {label} TCPs"),
            event: inputs::single_event(&inputs::fleet_list(tcps)),
            // A 100k-TCP call takes a good part of a second: fewer rounds.
            rounds: if tcps > 10_000 { 11 } else { 31 },
            // The target is set on the 10k-TCP heartbeat.
            target: (tcps == 10_000).then_some(Target::AtMost(1.5)),
        };
        compare(context, plugin, &mut section, &heartbeat);
    }
    section.note(
        "native logic: the plugin's Rust `handle` on an event already in its own types; \
         native call: the same after a deep copy of the event into those types, which is what \
         lowering it into the guest costs the component call; both are given the event as the \
         host's decoder gives it, with only the fields the plugin reads",
    );
    section.note(
        "wasm call: what the host does for each batch: withhold what the plugin did not \
         declare, a fresh instance, lower the event, run, lift the payload",
    );
    section.note(
        "ratios are taken round by round (paired samples), then summarised; \
         the like-for-like ratio is wasm call / native call",
    );
    section
}

/// One input of the comparison.
struct Case {
    name: String,
    event: Event,
    rounds: usize,
    target: Option<Target>,
}

fn compare(context: &Context, plugin: &Plugin, section: &mut Section, case: &Case) {
    progress(&format!("plugin speed: {}", case.name));
    let name = &case.name;
    // As the host's decoder hands it over: with only what the plugin reads.
    let mut event = case.event.clone();
    event.withhold(plugin.description().reads);
    let event = &event;
    let installation = inputs::installation();
    let native_installation = guest::native::installation(&installation);
    let native_event = guest::native::event(event);
    let samples = side_by_side(
        context.plan(case.rounds),
        &mut [
            &mut || {
                black_box(guest::handle(&native_installation, &native_event))
                    .expect("native handle");
            },
            &mut || {
                black_box(guest::native::handle(&installation, event)).expect("native handle");
            },
            &mut || {
                // The clone stands for the decoder's output, which the host moves.
                black_box(plugin.handle(&installation, event.clone())).expect("wasm handle");
            },
        ],
    );
    let [logic, native_call, wasm_call] = samples.as_slice() else {
        unreachable!("three contenders give three series");
    };
    let unit = time_unit(native_call);
    let rows = [
        ("native logic", logic, unit),
        ("native call (incl. copy)", native_call, unit),
        (
            "wasm call (the host's own)",
            wasm_call,
            time_unit(wasm_call),
        ),
    ];
    for (contender, samples, unit) in rows {
        section.row(Row::from_samples(
            format!("{name}: {contender}"),
            samples,
            unit,
        ));
    }
    let like_for_like = Row::from_samples(
        format!("{name}: wasm/native, call against call"),
        &paired_ratios(wasm_call, native_call),
        Unit::Times,
    );
    section.row(match case.target {
        Some(target) => like_for_like.target(target),
        None => like_for_like,
    });
    section.row(Row::from_samples(
        format!("{name}: wasm call/native logic"),
        &paired_ratios(wasm_call, logic),
        Unit::Times,
    ));
}
