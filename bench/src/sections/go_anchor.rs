//! Section 7: against Kamaji's own Go telemetry path, side by side.
//!
//! The anchor (`bench/anchors`, stdlib only) decodes the same generated
//! inputs into typed structs with `encoding/json`, builds the wire-v1 bodies
//! by Kamaji's rules and `json.Marshal`s them, and for `send` POSTs each one
//! with `net/http` keep-alive, one after the other, as Kamaji's client does.
//! `make bench` builds it with Debian's Go. Each round runs our release
//! binary and the anchor back to back on the same file, so the ratios are
//! paired and the machine's noise falls on both alike.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::inputs::{self, MIXED, Operation};
use crate::process::{Exit, host_command};
use crate::report::{Row, Section, Target, Unit};
use crate::stats::paired_ratios;
use crate::{Context, progress};

/// Documents of the AdmissionReview stream both previews read.
pub const ADMISSIONS: usize = 20_000;
/// TCPs of the List both heartbeats read.
pub const FLEET: usize = 100_000;
/// Payloads both senders POST.
const SENDS: usize = 20_000;

pub fn measure(context: &Context) -> Section {
    let mut section = Section::new("7. Against Kamaji's Go path (same inputs, same run)");
    let anchors = context.root.join("target/anchors");
    let (baseline, receiver) = (anchors.join("go-baseline"), anchors.join("go-receiver"));
    if !baseline.is_file() || !receiver.is_file() {
        let why = format!(
            "{} is not built: `make bench` builds it with Debian's golang-go",
            baseline.display()
        );
        section.row(Row::not_measured("Go anchor", why, Unit::Times));
        return section;
    }
    progress("go anchor: generating inputs");
    let admissions = context.input(
        "go-admissions.json",
        &inputs::admission_stream(ADMISSIONS, MIXED),
    );
    let fleet = context.input("go-fleet.json", &inputs::fleet_list(FLEET));
    let sends = context.input(
        "go-sends.json",
        &inputs::admission_stream(SENDS, &[Operation::Create]),
    );
    let go = |args: &[&Path]| {
        let mut command = Command::new(&baseline);
        command.args(args);
        command
    };
    let ours = |input: &Path| {
        let mut command = context.host("preview", Some(&context.warm_cache()));
        command.args(["--output", "json"]).arg(input);
        command
    };

    progress("go anchor: preview of 20k AdmissionReviews");
    let preview = pairs(
        context,
        &ours(&admissions),
        &go(&[Path::new("preview"), &admissions]),
    );
    wall_rows(
        &mut section,
        "preview --output json, 20k AdmissionReviews",
        &preview,
        0.67,
    );

    progress("go anchor: heartbeat over a 100k-TCP List");
    let heartbeat = pairs(context, &ours(&fleet), &go(&[Path::new("preview"), &fleet]));
    wall_rows(
        &mut section,
        "heartbeat over a 100k-TCP List",
        &heartbeat,
        0.5,
    );
    rss_rows(
        &mut section,
        "heartbeat over a 100k-TCP List",
        &heartbeat,
        Target::AtMost(0.5),
    );

    progress("go anchor: send 20k payloads to a loopback Go receiver");
    let send = match GoReceiver::start(&receiver) {
        Ok(sink) => {
            let mut ours = context.host("send", Some(&context.warm_cache()));
            ours.arg(&sends)
                .args(["--endpoint", &sink.url, "--queue-capacity"])
                .arg((2 * SENDS).to_string());
            let url = PathBuf::from(&sink.url);
            pairs(context, &ours, &go(&[Path::new("send"), &sends, &url]))
        }
        Err(error) => Err(error),
    };
    wall_rows(
        &mut section,
        "send 20k payloads to a loopback Go receiver",
        &send,
        0.4,
    );
    match &send {
        Ok(runs) => {
            let peaks: Vec<f64> = runs.iter().map(|(ours, _)| ours.peak_rss as f64).collect();
            section.row(
                Row::from_samples("  send: our peak RSS", &peaks, Unit::MiB)
                    .target(Target::AtMost(32.0 * 1024.0 * 1024.0)),
            );
            let go_peaks: Vec<f64> = runs.iter().map(|(_, go)| go.peak_rss as f64).collect();
            section.row(Row::from_samples(
                "  send: Go's peak RSS",
                &go_peaks,
                Unit::MiB,
            ));
        }
        Err(why) => {
            section.row(Row::not_measured(
                "  send: our peak RSS",
                why.clone(),
                Unit::MiB,
            ));
        }
    }
    section.note(
        "ours: the release binary, plugin from a warm cache, bodies printed (preview) or \
         POSTed (send); Go: the anchor, which prints one body and a summary line",
    );
    section
}

/// One measured run of ours and one of Go's, `context.runs(7)` times.
type Pairs = Result<Vec<(Exit, Exit)>, String>;

fn pairs(context: &Context, ours: &Command, go: &Command) -> Pairs {
    (0..context.runs(7))
        .map(|_| Ok((context.run(ours)?, context.run(&quiet(go))?)))
        .collect()
}

/// The anchor's one printed body goes to stderr; keep it out of the report.
fn quiet(go: &Command) -> Command {
    let mut command = host_command(Path::new(go.get_program()));
    command.args(go.get_args());
    command
}

fn wall_rows(section: &mut Section, figure: &str, runs: &Pairs, target: f64) {
    let ratio = format!("{figure}: wall, ours / Go");
    match runs {
        Ok(runs) => {
            let ours: Vec<f64> = runs.iter().map(|(o, _)| o.wall.as_secs_f64()).collect();
            let go: Vec<f64> = runs.iter().map(|(_, g)| g.wall.as_secs_f64()).collect();
            section.row(Row::from_samples(
                format!("{figure}: ours"),
                &ours,
                Unit::Millis,
            ));
            section.row(Row::from_samples(
                format!("{figure}: Go"),
                &go,
                Unit::Millis,
            ));
            section.row(
                Row::from_samples(ratio, &paired_ratios(&ours, &go), Unit::Times)
                    .target(Target::AtMost(target)),
            );
        }
        Err(why) => {
            section.row(Row::not_measured(ratio, why.clone(), Unit::Times));
        }
    }
}

fn rss_rows(section: &mut Section, figure: &str, runs: &Pairs, target: Target) {
    let ratio = format!("{figure}: peak RSS, ours / Go");
    match runs {
        Ok(runs) => {
            let ours: Vec<f64> = runs.iter().map(|(o, _)| o.peak_rss as f64).collect();
            let go: Vec<f64> = runs.iter().map(|(_, g)| g.peak_rss as f64).collect();
            section.row(Row::from_samples(
                format!("{figure}: our peak RSS"),
                &ours,
                Unit::MiB,
            ));
            section.row(Row::from_samples(
                format!("{figure}: Go's peak RSS"),
                &go,
                Unit::MiB,
            ));
            section.row(
                Row::from_samples(ratio, &paired_ratios(&ours, &go), Unit::Times).target(target),
            );
        }
        Err(why) => {
            section.row(Row::not_measured(ratio, why.clone(), Unit::Times));
        }
    }
}

/// The anchor's receiver on a free loopback port, stopped when dropped.
struct GoReceiver {
    child: Child,
    url: String,
}

impl GoReceiver {
    fn start(binary: &Path) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(binary)
            .arg(&address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        // Up when it accepts a connection.
        for _ in 0..200 {
            if std::net::TcpStream::connect(&address).is_ok() {
                return Ok(Self {
                    child,
                    url: format!("http://{address}"),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(format!("{} did not listen on {address}", binary.display()))
    }
}

impl Drop for GoReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
