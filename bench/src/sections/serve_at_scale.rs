//! Section 8: `serve` against a fake API server holding a large fleet: its
//! peak memory above an idle agent's, per TenantControlPlane, and the time to
//! its first heartbeat beside the time the fake takes to serve the whole List.
//!
//! The fake is the tests' (tests/support/kube_api.rs): Kamaji's sample
//! TenantControlPlane with the status a real cluster adds, about 1.5 KB of
//! JSON each, served a page at a time as kube-runtime asks. An informer cache
//! of full objects, what Kamaji's Go controller holds, costs at least the
//! List's JSON size, printed beside.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use kamaji_telemetry_e2e::kube_api::FakeApi;
use kamaji_telemetry_e2e::receiver::Receiver;

use crate::process::memory_status;
use crate::report::{Row, Section, Target, Unit};
use crate::{Context, progress};

/// The targets: at most 1 KiB held per TCP, and the first heartbeat within
/// twice the time the List takes to serve.
const BYTES_PER_TCP: f64 = 1024.0;
const FIRST_HEARTBEAT_VS_LIST: f64 = 2.0;

pub fn measure(context: &Context) -> Section {
    let mut section = Section::new("8. serve at scale (watch of a fake API server)");
    let fleets: &[usize] = if context.quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    let idle = match run(context, 0) {
        Ok(idle) => idle,
        Err(why) => {
            section.row(Row::not_measured("serve, idle", why, Unit::MiB));
            return section;
        }
    };
    section.row(Row::exact("peak RSS, no TCP", idle.peak_rss, Unit::MiB));
    for &tcps in fleets {
        match run(context, tcps) {
            Ok(fleet) => rows(&mut section, tcps, &idle, &fleet),
            Err(why) => {
                section.row(Row::not_measured(format!("{tcps} TCPs"), why, Unit::MiB));
            }
        }
    }
    section.note(
        "serve --kubeconfig against the fake, heartbeat on the first complete list; peak RSS is \
         VmHWM right after the first heartbeat reached a loopback receiver; per TCP is above \
         the idle agent's; the List time is one GET of the whole List (no pages) and its read",
    );
    section
}

fn rows(section: &mut Section, tcps: usize, idle: &Observed, fleet: &Observed) {
    let count = tcps as f64;
    section.row(Row::exact(
        format!("{tcps} TCPs: List JSON"),
        fleet.list_bytes,
        Unit::MiB,
    ));
    section.row(Row::exact(
        format!("{tcps} TCPs: peak RSS"),
        fleet.peak_rss,
        Unit::MiB,
    ));
    section.row(
        Row::exact(
            format!("{tcps} TCPs: held per TCP"),
            (fleet.peak_rss - idle.peak_rss).max(0.0) / count,
            Unit::Bytes,
        )
        .target(Target::AtMost(BYTES_PER_TCP)),
    );
    section.row(Row::exact(
        format!("{tcps} TCPs: the List served"),
        fleet.list_time.as_secs_f64(),
        Unit::Millis,
    ));
    section.row(Row::exact(
        format!("{tcps} TCPs: first heartbeat"),
        fleet.first_heartbeat.as_secs_f64(),
        Unit::Millis,
    ));
    section.row(
        Row::exact(
            format!("{tcps} TCPs: first heartbeat / List served"),
            fleet.first_heartbeat.as_secs_f64() / fleet.list_time.as_secs_f64(),
            Unit::Times,
        )
        .target(Target::AtMost(FIRST_HEARTBEAT_VS_LIST)),
    );
}

/// What one run of serve against a fleet showed.
struct Observed {
    peak_rss: f64,
    first_heartbeat: Duration,
    list_time: Duration,
    list_bytes: f64,
}

fn run(context: &Context, tcps: usize) -> Result<Observed, String> {
    progress(&format!("serve at scale: {tcps} TCPs"));
    let api = FakeApi::start();
    api.create_tcps(tcps);
    let (list_time, list_bytes) = time_the_list(&api)?;
    let receiver = Receiver::start();
    let dir = context.scratch(&format!("scale-{tcps}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut command = context.host("serve", Some(&context.warm_cache()));
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--heartbeat-interval",
            "1h",
            "--endpoint",
        ])
        .arg(receiver.url())
        .arg("--kubeconfig")
        .arg(api.kubeconfig(&dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start serve: {e}"))?;
    let observed = first_heartbeat(&mut child, &receiver, started).and_then(|first_heartbeat| {
        let peak = memory_status(child.id(), "VmHWM").ok_or("cannot read serve's memory")?;
        Ok(Observed {
            peak_rss: peak as f64,
            first_heartbeat,
            list_time,
            list_bytes: list_bytes as f64,
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    observed
}

/// Waits for serve to listen, then for the first heartbeat at the receiver.
fn first_heartbeat(
    child: &mut Child,
    receiver: &Receiver,
    started: Instant,
) -> Result<Duration, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("listening on "));
    if !listening {
        return Err("serve did not start".into());
    }
    let deadline = started + Duration::from_secs(600);
    while Instant::now() < deadline {
        if receiver
            .requests()
            .iter()
            .any(|request| request.path == "/stats")
        {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("no heartbeat within 600 s".into())
}

/// One GET of the whole List, read to its end: what any client pays first.
fn time_the_list(api: &FakeApi) -> Result<(Duration, usize), String> {
    let url = format!(
        "{}/apis/kamaji.clastix.io/v1alpha1/tenantcontrolplanes",
        api.url()
    );
    let started = Instant::now();
    let body = reqwest::blocking::get(&url)
        .and_then(|response| response.bytes())
        .map_err(|e| format!("GET the List: {e}"))?;
    Ok((started.elapsed(), body.len()))
}
