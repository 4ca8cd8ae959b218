//! Section 6: memory and size.

use super::throughput::Footprints;
use super::webhook::IdleMemory;
use crate::Context;
use crate::report::{Row, Section, Target, Unit};

pub fn measure(context: &Context, runs: &Footprints, idle: Result<IdleMemory, String>) -> Section {
    let mut section = Section::new("6. Memory and size");
    section.row(Row::from_samples(
        "send, 10k payloads: peak RSS",
        &runs.send,
        Unit::MiB,
    ));
    section.row(Row::from_samples(
        "preview, 100k AdmissionReviews: peak RSS",
        &runs.preview,
        Unit::MiB,
    ));
    section.row(Row::from_samples(
        "heartbeat over 100k TCPs (preview of the List): peak RSS",
        &runs.heartbeat,
        Unit::MiB,
    ));
    let idle_target = Target::AtMost(32.0 * 1024.0 * 1024.0);
    match idle {
        Ok(idle) => {
            section.row(
                Row::exact(
                    "idle serve: peak RSS since start (VmHWM)",
                    idle.peak,
                    Unit::MiB,
                )
                .target(idle_target),
            );
            section.row(Row::from_samples(
                "idle serve: RSS, sampled while idle",
                &idle.resident,
                Unit::MiB,
            ));
        }
        Err(why) => {
            section
                .row(Row::not_measured("idle serve: peak RSS", why, Unit::MiB).target(idle_target));
        }
    }
    section.row(
        file_size("plugin component (.wasm)", &context.plugin_file, Unit::KiB)
            .target(Target::AtMost(150.0 * 1024.0)),
    );
    section.row(file_size(
        "host binary (release, with symbols)",
        &context.binary,
        Unit::MiB,
    ));
    section.note(
        "peak RSS of a finished process is its own high-water mark, from wait4(2); the \
         AdmissionReview stream is read a document at a time, and the List an item at a time \
         (a JSON document over 4 MiB is not kept whole)",
    );
    section
}

fn file_size(figure: &str, path: &std::path::Path, unit: Unit) -> Row {
    match std::fs::metadata(path) {
        Ok(metadata) => Row::exact(figure, metadata.len() as f64, unit),
        Err(error) => Row::not_measured(figure, format!("{}: {error}", path.display()), unit),
    }
}
