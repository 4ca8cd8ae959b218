//! Section 4: end-to-end throughput of the release binary, and the loop inside it.

use std::hint::black_box;
use std::path::Path;

use kamaji_telemetry::kube;
use kamaji_telemetry::model::Event;
use kamaji_telemetry::pipeline::Pipeline;
use kamaji_telemetry::plugin::InstanceAllocation;
use kamaji_telemetry_e2e::receiver::Receiver;

use crate::inputs::{self, MIXED, Operation};
use crate::measure::side_by_side;
use crate::process::Exit;
use crate::report::{Row, Section, Target, Unit};
use crate::{Context, load_plugin, progress};

/// Documents in the preview stream.
const ADMISSIONS: usize = 100_000;
/// TCPs in the heartbeat's List.
const FLEET: usize = 100_000;
/// Payloads sent to the loopback receiver per run.
const SENDS: usize = 10_000;
/// Documents of the in-process loop: a prefix of the preview stream.
const IN_PROCESS: usize = 20_000;

/// Peak resident sets of the end-to-end runs, in bytes, for section 6.
#[derive(Debug, Default)]
pub struct Footprints {
    pub preview: Vec<f64>,
    pub heartbeat: Vec<f64>,
    pub send: Vec<f64>,
}

pub fn measure(context: &Context) -> (Section, Footprints) {
    let mut section = Section::new("4. Throughput, end to end");
    let mut footprints = Footprints::default();
    progress("throughput: generating inputs");
    let admissions = inputs::admission_stream(ADMISSIONS, MIXED);
    let fleet = inputs::fleet_list(FLEET);
    let sends = inputs::admission_stream(SENDS, &[Operation::Create]);
    let admissions_file = context.input("admissions.json", &admissions);
    let fleet_file = context.input("fleet.json", &fleet);
    let sends_file = context.input("sends.json", &sends);
    warm_the_cache(context);

    progress("throughput: preview of 100k AdmissionReviews");
    let runs = run_times(context, || preview(context, &admissions_file));
    footprints.preview = peaks(&runs);
    section.row(
        rate_row(
            format!(
                "preview, 100k AdmissionReviews ({}): docs/s",
                megabytes(admissions.len())
            ),
            &runs,
            ADMISSIONS,
            Unit::Rate("docs/s"),
        )
        .target(Target::AtLeast(100_000.0)),
    );

    progress("throughput: heartbeat over a 100k-TCP List");
    let runs = run_times(context, || preview(context, &fleet_file));
    footprints.heartbeat = peaks(&runs);
    section.row(
        time_row(
            format!(
                "heartbeat, 100k-TCP List ({}), preview end to end",
                megabytes(fleet.len())
            ),
            &runs,
        )
        .target(Target::AtMost(0.6)),
    );

    progress("throughput: send to a loopback receiver");
    let (rows, peaks) = send(context, &sends_file);
    footprints.send = peaks;
    for row in rows {
        section.row(row);
    }

    progress("throughput: preview's loop in process");
    in_process(
        context,
        &prefix_lines(&admissions, IN_PROCESS),
        &mut section,
    );
    section.note(format!(
        "the AdmissionReview stream: one compact document per line, half CREATE, 3/10 UPDATE \
         (half of them change the version), 1/5 DELETE, {} a document on average",
        bytes(admissions.len() / ADMISSIONS)
    ));
    section.note(
        "end-to-end figures are wall time of the whole process (start, plugin load from a warm \
         cache, reading the file, decoding, plugin calls, leak guard, output to /dev/null, exit)",
    );
    (section, footprints)
}

/// The end-to-end runs load the plugin from a warm cache, as a host that ran before does.
fn warm_the_cache(context: &Context) {
    let document = context.input(
        "warm.json",
        &inputs::admission_stream(1, &[Operation::Create]),
    );
    let _ = preview(context, &document);
}

fn preview(context: &Context, input: &Path) -> Result<Exit, String> {
    let mut command = context.host("preview", Some(&context.warm_cache()));
    command.arg(input);
    context.run(&command)
}

/// Repeats a process-level measurement; the first failure ends it.
fn run_times(
    context: &Context,
    mut run: impl FnMut() -> Result<Exit, String>,
) -> Result<Vec<Exit>, String> {
    (0..context.runs(7)).map(|_| run()).collect()
}

fn peaks(runs: &Result<Vec<Exit>, String>) -> Vec<f64> {
    runs.iter()
        .flatten()
        .map(|exit| exit.peak_rss as f64)
        .collect()
}

fn time_row(figure: String, runs: &Result<Vec<Exit>, String>) -> Row {
    match runs {
        Ok(runs) => {
            let seconds: Vec<f64> = runs.iter().map(|exit| exit.wall.as_secs_f64()).collect();
            Row::from_samples(figure, &seconds, Unit::Millis)
        }
        Err(error) => Row::not_measured(figure, error.clone(), Unit::Millis),
    }
}

fn rate_row(figure: String, runs: &Result<Vec<Exit>, String>, count: usize, unit: Unit) -> Row {
    match runs {
        Ok(runs) => {
            let rates: Vec<f64> = runs
                .iter()
                .map(|exit| count as f64 / exit.wall.as_secs_f64())
                .collect();
            Row::from_samples(figure, &rates, unit)
        }
        Err(error) => Row::not_measured(figure, error.clone(), unit),
    }
}

/// `send` of one payload per document to a fresh loopback receiver per run.
fn send(context: &Context, input: &Path) -> (Vec<Row>, Vec<f64>) {
    let figure = "send 10k payloads to loopback, connections reused: payloads/s";
    let delivery = "  of which delivery alone (first → last request at the receiver)";
    let (mut end_to_end, mut delivered, mut peaks, mut connections) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..context.runs(7) {
        let receiver = Receiver::start();
        let mut command = context.host("send", Some(&context.warm_cache()));
        command.arg(input).args([
            "--endpoint",
            &receiver.url(),
            "--queue-capacity",
            &(2 * SENDS).to_string(),
        ]);
        let exit = match context.run(&command) {
            Ok(exit) => exit,
            Err(error) => {
                let rows = vec![
                    Row::not_measured(figure, error, Unit::Rate("payloads/s"))
                        .target(Target::AtLeast(6_500.0)),
                ];
                return (rows, peaks);
            }
        };
        let requests = receiver.requests();
        end_to_end.push(requests.len() as f64 / exit.wall.as_secs_f64());
        if let (Some(first), Some(last)) = (requests.first(), requests.last()) {
            let span = last.at.duration_since(first.at).as_secs_f64();
            delivered.push((requests.len() - 1) as f64 / span);
        }
        peaks.push(exit.peak_rss as f64);
        connections.push(receiver.connections());
    }
    let rows = vec![
        Row::from_samples(figure, &end_to_end, Unit::Rate("payloads/s"))
            .target(Target::AtLeast(6_500.0)),
        Row::from_samples(delivery, &delivered, Unit::Rate("payloads/s")),
        Row::from_samples(
            "  TCP connections the receiver accepted per run",
            &connections.iter().map(|&c| c as f64).collect::<Vec<_>>(),
            Unit::Count,
        ),
    ];
    (rows, peaks)
}

/// The loop of `preview` (decode, plugin, leak guard) without the process
/// around it: one event a call, and in batches as the host does.
fn in_process(context: &Context, stream: &[u8], section: &mut Section) {
    let pipeline = Pipeline::new(
        load_plugin(InstanceAllocation::Pooling),
        inputs::installation(),
    );
    // Decoded as the host decodes: with only what the plugin reads.
    let reads = pipeline.plugin().description().reads;
    let decode = || kube::decode_stream(stream).showing(reads);
    let samples = side_by_side(
        context.plan(7),
        &mut [
            &mut || decode().for_each(|document| drop(black_box(document))),
            &mut || {
                for document in decode() {
                    let event = document.expect("generated documents decode").event;
                    drop(black_box(pipeline.process(event)));
                }
            },
            &mut || {
                let events: Vec<Event> = decode()
                    .map(|document| document.expect("generated documents decode").event)
                    .collect();
                drop(black_box(pipeline.process_batch(events)));
            },
        ],
    );
    let figures = [
        "in process, decode only: docs/s",
        "in process, decode + plugin + leak guard, one event a call: docs/s",
        "in process, decode + plugin + leak guard, in batches (as the host): docs/s",
    ];
    for (figure, seconds) in figures.into_iter().zip(&samples) {
        let rates: Vec<f64> = seconds.iter().map(|s| IN_PROCESS as f64 / s).collect();
        section.row(Row::from_samples(figure, &rates, Unit::Rate("docs/s")));
    }
}

/// The first `lines` lines of a stream.
fn prefix_lines(stream: &[u8], lines: usize) -> Vec<u8> {
    let end = stream
        .iter()
        .enumerate()
        .filter(|(_, byte)| **byte == b'\n')
        .nth(lines - 1)
        .map_or(stream.len(), |(i, _)| i + 1);
    stream[..end].to_vec()
}

fn megabytes(bytes: usize) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn bytes(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1e3)
}
