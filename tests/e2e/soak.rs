//! The chaos soak (RELIABILITY.md §4): `kamaji-telemetry serve` under a steady
//! webhook load for `SOAK_SECONDS` (40 by default, `make soak` runs 600),
//! delivering to a backend that misbehaves at random (500, 503, 429 with
//! `Retry-After`, resets, replies slower than the client's timeout, outages),
//! while the plugin file is swapped and the opt-out toggled. At the end it
//! prints the accounting and fails unless every payload is accounted for,
//! the backend's count agrees, RSS stayed flat and nothing panicked.
//!
//! `SOAK_SEED` replays a run's backend answers (the load is the same in every run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, Metrics, eventually};
use kamaji_telemetry_e2e::host::sample;
use kamaji_telemetry_e2e::receiver::{Answer, Chaos, Receiver};
use kamaji_telemetry_e2e::{default_plugin, plugin_variant};
use serde_json::{Value, json};

const DEFAULT_SECONDS: u64 = 40;
const DEFAULT_SEED: u64 = 7;
/// Webhook calls a second. The agent delivers one payload at a time, and
/// every slow reply, 429 and outage stalls it: at this rate it keeps up
/// between outages, so the soak mostly delivers rather than drops.
const RATE: u32 = 25;
/// The client's timeout. Generous for a debug build on a loaded machine: a
/// 200 read after it would be retried and stored twice (see `Chaos::late`).
const TIMEOUT: Duration = Duration::from_secs(1);
const SWAP_PERIOD: Duration = Duration::from_secs(5);
/// Telemetry is off for the last `OFF` of every `TOGGLE_PERIOD`.
const TOGGLE_PERIOD: Duration = Duration::from_secs(7);
const OFF: Duration = Duration::from_millis(1_500);
/// RSS before this share of the run is warm-up (compiling, caches, pools).
const WARM_UP_SHARE: f64 = 0.25;
const MIB: u64 = 1024 * 1024;
/// How much RSS may grow after warm-up: RELIABILITY.md says it stays flat,
/// and measured growth is about 1 MiB; this leaves room for the allocator's
/// arenas, not for a leak of even a few bytes per payload over a long run.
const RSS_GROWTH_BOUND: u64 = 4 * MIB;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|value| value.parse().unwrap_or_else(|_| panic!("{name}={value}")))
        .unwrap_or(default)
}

fn chaos(seed: u64) -> Chaos {
    Chaos {
        seed,
        weights: vec![
            (Answer::Ok, 85),
            (Answer::ServerError, 3),
            (Answer::Unavailable, 5),
            (Answer::Throttled, 1),
            (Answer::Reset, 5),
            (Answer::Slow, 1),
        ],
        slow: TIMEOUT + Duration::from_millis(500),
        late: TIMEOUT / 4,
        outage_period: Duration::from_secs(11),
        outage: Duration::from_millis(1_500),
    }
}

/// The files `serve` follows.
struct Files {
    plugin: PathBuf,
    config: PathBuf,
    fleet: PathBuf,
    /// The default plugin and two variants of it: same behaviour, new digests.
    plugins: [Vec<u8>; 3],
}

impl Files {
    fn new(dir: &Path) -> Self {
        let original = std::fs::read(default_plugin()).expect("the default plugin");
        let plugins = [
            original.clone(),
            plugin_variant(&original, 1),
            plugin_variant(&original, 2),
        ];
        let files = Self {
            plugin: dir.join("plugin.wasm"),
            config: dir.join("telemetry.yaml"),
            fleet: dir.join("fleet.json"),
            plugins,
        };
        replace_file(&files.plugin, &files.plugins[0]);
        replace_file(&files.config, b"disabled: false\n");
        let fleet = std::fs::read(sample("fleet.json")).expect("the fleet sample");
        replace_file(&files.fleet, &fleet);
        files
    }
}

/// Writes by renaming, as Kubernetes does: a poll never sees half a file.
fn replace_file(path: &Path, bytes: &[u8]) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, bytes).expect("write");
    std::fs::rename(&staged, path).expect("rename");
}

fn serve(receiver: &Receiver, files: &Files) -> Command {
    let mut command = host_command();
    command.args([
        "serve",
        "--events",
        "webhook",
        "--kamaji-deployment",
        "none",
        "--listen",
        "127.0.0.1:0",
        "--endpoint",
    ]);
    command.arg(receiver.url());
    command.arg("--plugin").arg(&files.plugin);
    command.arg("--config").arg(&files.config);
    command.arg("--fleet-file").arg(&files.fleet);
    command
        .arg("--timeout")
        .arg(format!("{}ms", TIMEOUT.as_millis()));
    // Small queues, so that outages overflow them and drops get counted too.
    command.args([
        "--retry-initial-backoff",
        "20ms",
        "--retry-max-interval",
        "200ms",
        "--retry-max-elapsed",
        "2s",
        "--heartbeat-interval",
        "1s",
        "--watch-interval",
        "100ms",
        // Small queues, so that outages overflow them and drops get counted too.
        "--queue-capacity",
        "50",
        "--event-capacity",
        "100",
        "--shutdown-timeout",
        "10s",
    ]);
    command
}

/// The event of webhook call `n`: every payload it gives carries a version
/// no other call has, so the backend can tell payloads apart. One call in
/// ten is an update that changes no version, which the plugin sends nothing for.
fn review(n: usize) -> Vec<u8> {
    let (sample_name, old, new) = match n % 10 {
        0..=4 => ("admission-create.json", None, Some(version(n))),
        5..=7 => (
            "admission-update.json",
            Some(UNCHANGED.to_owned()),
            Some(version(n)),
        ),
        8 => ("admission-delete.json", Some(version(n)), None),
        _ => ("admission-update.json", Some(version(n)), Some(version(n))),
    };
    let mut review: Value =
        serde_json::from_slice(&std::fs::read(sample(sample_name)).expect("sample"))
            .expect("sample JSON");
    let request = &mut review["request"];
    request["uid"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    for (object, version) in [("oldObject", old), ("object", new)] {
        if let Some(version) = version {
            request[object]["spec"]["kubernetes"]["version"] = json!(version);
        }
    }
    serde_json::to_vec(&review).expect("JSON")
}

/// The version an update starts from: minor 29 is never one of `version`'s.
const UNCHANGED: &str = "v1.29.0";

fn version(n: usize) -> String {
    format!("v1.{}.{}", 30 + n / 1000, n % 1000)
}

/// The version that makes a delivered event payload unique.
fn payload_key(body: &Value) -> Option<String> {
    let key = body
        .get("new_tcp_version")
        .or_else(|| body.get("tcp_version"))?;
    key.as_str().map(str::to_owned)
}

/// VmRSS samples of the agent, in bytes, with when they were taken.
struct Rss {
    pid: u32,
    samples: Vec<(Duration, u64)>,
}

impl Rss {
    fn sample(&mut self, at: Duration) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("/proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in kB");
        self.samples.push((at, kib * 1024));
    }

    /// The first sample after warm-up, and the largest one after it.
    fn baseline_and_peak(&self, warm_up: Duration) -> (u64, u64) {
        let after: Vec<u64> = self
            .samples
            .iter()
            .filter(|(at, _)| *at >= warm_up)
            .map(|(_, rss)| *rss)
            .collect();
        let baseline = *after.first().expect("RSS samples after warm-up");
        (baseline, after.iter().copied().max().unwrap_or(baseline))
    }
}

/// What the load did.
#[derive(Debug, Default)]
struct Load {
    posted: usize,
    swaps: usize,
    /// Times telemetry was switched off.
    offs: usize,
}

/// Posts `RATE` reviews a second for `length`, swapping the plugin and
/// toggling the opt-out on their schedules, and samples RSS every second.
fn run_load(agent: &Agent, files: &Files, length: Duration, rss: &mut Rss) -> Load {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let url = agent.url("/telemetry");
    let (mut load, mut plugin, mut off) = (Load::default(), 0, false);
    let started = Instant::now();
    while started.elapsed() < length {
        let now = started.elapsed();
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(review(load.posted))
            .send()
            .expect("POST /telemetry");
        assert_eq!(response.status(), 200, "the webhook must always answer");
        load.posted += 1;
        if rss.samples.len() as u64 <= now.as_secs() {
            rss.sample(now);
        }
        let want_plugin = (now.as_millis() / SWAP_PERIOD.as_millis()) as usize % 3;
        if want_plugin != plugin {
            replace_file(&files.plugin, &files.plugins[want_plugin]);
            (plugin, load.swaps) = (want_plugin, load.swaps + 1);
        }
        let want_off =
            now.as_millis() % TOGGLE_PERIOD.as_millis() >= (TOGGLE_PERIOD - OFF).as_millis();
        if want_off != off {
            let config: &[u8] = if want_off {
                b"disabled: true\n"
            } else {
                b"disabled: false\n"
            };
            replace_file(&files.config, config);
            (off, load.offs) = (want_off, load.offs + usize::from(want_off));
        }
        let next = Duration::from_secs(load.posted as u64) / RATE;
        std::thread::sleep(next.saturating_sub(started.elapsed()));
    }
    if off {
        replace_file(&files.config, b"disabled: false\n");
    }
    load
}

/// Stops the heartbeat (an unusable fleet file gives none) and waits until
/// nothing is queued or being built: two scrapes a second apart that agree,
/// with both queues empty. Returns the last scrape.
fn quiesce(agent: &Agent, files: &Files) -> Metrics {
    replace_file(&files.fleet, b"{");
    let mut last = agent.metrics();
    eventually(Duration::from_secs(120), "the agent goes idle", || {
        std::thread::sleep(Duration::from_secs(1));
        let now = agent.metrics();
        let idle = now.value(DEPTH_EVENTS) == 0.0
            && now.value(DEPTH_PAYLOADS) == 0.0
            && counters(&now) == counters(&last);
        last = now;
        idle
    });
    last
}

const DEPTH_EVENTS: &str = "kamaji_telemetry_queue_depth{queue=\"events\"}";
const DEPTH_PAYLOADS: &str = "kamaji_telemetry_queue_depth{queue=\"payloads\"}";

/// Every counter series of a scrape.
fn counters(metrics: &Metrics) -> Vec<String> {
    metrics
        .0
        .lines()
        .filter(|line| line.starts_with("kamaji_telemetry_") && line.contains("_total"))
        .map(str::to_owned)
        .collect()
}

/// The sum of a counter over the given label values.
fn sum(metrics: &Metrics, name: &str, label: &str, values: &[&str]) -> u64 {
    values
        .iter()
        .map(|value| {
            metrics.value(&format!("kamaji_telemetry_{name}{{{label}=\"{value}\"}}")) as u64
        })
        .sum()
}

fn one(metrics: &Metrics, series: &str) -> u64 {
    metrics.value(&format!("kamaji_telemetry_{series}")) as u64
}

/// Every figure the checks use.
#[derive(Debug, Clone, Default)]
struct Accounting {
    // The load.
    posted: u64,
    offs: u64,
    // The agent, from its last scrape.
    reviews: u64,
    received: u64,
    events_dropped: BTreeMap<&'static str, u64>,
    without_payload: u64,
    blocked: u64,
    plugin_failures: u64,
    built: BTreeMap<&'static str, u64>,
    sent: u64,
    retried: u64,
    rejected: u64,
    failed: u64,
    dropped: BTreeMap<&'static str, u64>,
    swaps_ok: u64,
    swaps_failed: u64,
    reloads: u64,
    // The backend.
    answers: BTreeMap<&'static str, u64>,
    outage_resets: u64,
    accepted: u64,
    accepted_stats: u64,
    accepted_events: BTreeMap<String, u64>,
    unknown_keys: Vec<String>,
    // Shutdown, from the summary line.
    summary: Option<Summary>,
}

const EVENT_DROPS: [&str; 3] = ["intake_full", "disabled", "shutdown"];
const ROUTES: [&str; 4] = ["stats", "create", "update", "delete"];
const PAYLOAD_DROPS: [&str; 3] = ["queue_full", "opt_out", "shutdown"];
const PLUGIN_FAILURES: [&str; 10] = [
    "trap",
    "timeout",
    "memory_cap",
    "output_cap",
    "instantiate",
    "answer_count",
    "malformed_input",
    "unsupported_event",
    "internal",
    "untyped",
];

fn by_label(
    metrics: &Metrics,
    name: &str,
    label: &str,
    values: &[&'static str],
) -> BTreeMap<&'static str, u64> {
    values
        .iter()
        .map(|value| (*value, sum(metrics, name, label, &[value])))
        .collect()
}

impl Accounting {
    fn agent(metrics: &Metrics, load: &Load) -> Self {
        Self {
            posted: load.posted as u64,
            offs: load.offs as u64,
            reviews: sum(
                metrics,
                "webhook_reviews_total",
                "result",
                &["event", "no_event"],
            ),
            received: sum(
                metrics,
                "events_received_total",
                "event",
                &["created", "updated", "deleted", "heartbeat"],
            ),
            events_dropped: by_label(metrics, "events_dropped_total", "reason", &EVENT_DROPS),
            without_payload: one(metrics, "events_without_payload_total"),
            blocked: one(metrics, "payloads_blocked_total"),
            plugin_failures: sum(metrics, "plugin_failures_total", "reason", &PLUGIN_FAILURES),
            built: by_label(metrics, "payloads_built_total", "route", &ROUTES),
            sent: one(metrics, "payloads_sent_total"),
            retried: one(metrics, "payloads_retried_total"),
            rejected: one(metrics, "payloads_rejected_total"),
            failed: one(metrics, "payloads_failed_total"),
            dropped: by_label(metrics, "payloads_dropped_total", "reason", &PAYLOAD_DROPS),
            swaps_ok: sum(metrics, "plugin_swaps_total", "result", &["succeeded"]),
            swaps_failed: sum(metrics, "plugin_swaps_total", "result", &["failed"]),
            reloads: sum(metrics, "config_reloads_total", "result", &["applied"]),
            ..Self::default()
        }
    }

    /// Tallies what the backend answered, and the event payloads it accepted
    /// by their unique version.
    fn backend(&mut self, receiver: &Receiver) {
        for request in receiver.requests() {
            let answer = match &request.reply {
                None => "reset",
                Some(reply) if !reply.delay.is_zero() => "503 slow",
                Some(reply) => match reply.status {
                    200 => "200",
                    429 => "429",
                    500 => "500",
                    503 => "503",
                    504 => "504 late",
                    _ => "other",
                },
            };
            *self.answers.entry(answer).or_default() += 1;
            if answer != "200" {
                continue;
            }
            self.accepted += 1;
            if request.path == "/stats" {
                self.accepted_stats += 1;
            } else {
                match payload_key(&request.json()) {
                    Some(key) => *self.accepted_events.entry(key).or_default() += 1,
                    None => self.unknown_keys.push(request.body.clone()),
                }
            }
        }
        self.outage_resets = receiver.outage_resets() as u64;
    }

    fn built_total(&self) -> u64 {
        self.built.values().sum()
    }

    /// Every payload built ends in exactly one of these.
    fn outcomes_total(&self) -> u64 {
        self.sent + self.rejected + self.failed + self.dropped.values().sum::<u64>()
    }

    fn duplicates(&self) -> Vec<(&String, &u64)> {
        self.accepted_events
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect()
    }

    /// Payloads the backend accepted that the agent counts as not sent: each
    /// is a delivery cancelled after the backend answered, which only
    /// switching telemetry off (the one in flight is dropped) or the shutdown
    /// deadline do. At most one each time.
    fn accepted_but_not_counted_sent(&self) -> i128 {
        i128::from(self.accepted) - i128::from(self.sent)
    }

    /// Every failed check, in words; empty when the run is sound.
    fn failures(&self) -> Vec<String> {
        [self.agent_checks(), self.backend_checks()]
            .into_iter()
            .flatten()
            .filter(|(holds, _)| !holds)
            .map(|(_, what)| what)
            .collect()
    }

    /// The agent's own identities: every webhook call is counted, every
    /// event ends as dropped, nothing to send, built, blocked or a plugin
    /// failure, and every payload built ends as sent, rejected, failed or
    /// dropped; the shutdown summary agrees and left nothing.
    fn agent_checks(&self) -> Vec<(bool, String)> {
        let events_out = self.events_dropped.values().sum::<u64>()
            + self.without_payload
            + self.built_total()
            + self.blocked
            + self.plugin_failures;
        let summary = match &self.summary {
            Some(summary) => (
                summary.matches(self),
                format!("the shutdown summary {summary:?} disagrees with the last scrape"),
            ),
            None => (false, "no shutdown summary".to_owned()),
        };
        vec![
            (
                self.reviews == self.posted,
                format!(
                    "{} webhook calls posted, {} counted",
                    self.posted, self.reviews
                ),
            ),
            (
                self.received == events_out,
                format!(
                    "events: {} received, {events_out} accounted for",
                    self.received
                ),
            ),
            (
                self.built_total() == self.outcomes_total(),
                format!(
                    "payloads: {} built, {} accounted for",
                    self.built_total(),
                    self.outcomes_total()
                ),
            ),
            (
                self.swaps_ok > 0 && self.swaps_failed == 0,
                format!(
                    "plugin swaps: {} succeeded, {} failed",
                    self.swaps_ok, self.swaps_failed
                ),
            ),
            summary,
        ]
    }

    /// The backend's count against the agent's: no payload accepted twice,
    /// every accepted payload one the agent counts as sent (a switch-off
    /// lets the request on the wire finish), and a 500 behind every
    /// rejection.
    fn backend_checks(&self) -> Vec<(bool, String)> {
        let slack = self.accepted_but_not_counted_sent();
        let answered_500 = self.answers.get("500").copied().unwrap_or_default();
        vec![
            (
                self.duplicates().is_empty(),
                format!("accepted twice by the backend: {:?}", self.duplicates()),
            ),
            (
                self.unknown_keys.is_empty(),
                format!("accepted bodies without a version: {:?}", self.unknown_keys),
            ),
            (
                slack == 0,
                format!(
                    "the backend accepted {} payloads, the agent counts {} sent",
                    self.accepted, self.sent
                ),
            ),
            (
                self.rejected <= answered_500,
                format!(
                    "{} rejected, but only {answered_500} answers of 500",
                    self.rejected
                ),
            ),
        ]
    }

    fn print(&self) {
        let row = |name: &str, value: String| println!("  {name:<44} {value:>10}");
        let list = |map: &BTreeMap<&str, u64>| {
            map.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("\nsoak accounting");
        row(
            "webhook calls posted / counted",
            format!("{} / {}", self.posted, self.reviews),
        );
        row(
            "events received (incl. heartbeats)",
            self.received.to_string(),
        );
        println!("    dropped: {}", list(&self.events_dropped));
        row("  without payload", self.without_payload.to_string());
        row("  blocked by the leak guard", self.blocked.to_string());
        row("  plugin failures", self.plugin_failures.to_string());
        row("payloads built", self.built_total().to_string());
        println!("    by route: {}", list(&self.built));
        row("  sent", self.sent.to_string());
        row("  rejected", self.rejected.to_string());
        row("  failed", self.failed.to_string());
        println!("    dropped: {}", list(&self.dropped));
        row(
            "  retries (attempts, not payloads)",
            self.retried.to_string(),
        );
        row(
            "plugin swaps ok / failed",
            format!("{} / {}", self.swaps_ok, self.swaps_failed),
        );
        row(
            "opt-out switched off / reloads applied",
            format!("{} / {}", self.offs, self.reloads),
        );
        println!("  backend answers: {}", list(&self.answers));
        row(
            "  connections reset in outages",
            self.outage_resets.to_string(),
        );
        row("  accepted (200)", self.accepted.to_string());
        row("    heartbeats", self.accepted_stats.to_string());
        row("    unique events", self.accepted_events.len().to_string());
        row("    duplicated events", self.duplicates().len().to_string());
        row(
            "  accepted but not counted sent",
            self.accepted_but_not_counted_sent().to_string(),
        );
        if let Some(summary) = &self.summary {
            println!("  shutdown: {}", summary.line);
        }
    }
}

/// The agent's last stdout line: `stopped: sent N, retried N, rejected N,
/// failed N, dropped N (queue full N, opt-out N); left undelivered at
/// shutdown: N payloads, N events not built`.
#[derive(Debug, Clone)]
struct Summary {
    line: String,
    numbers: Vec<u64>,
}

impl Summary {
    fn parse(stdout: &str) -> Option<Self> {
        let line = stdout
            .lines()
            .find(|line| line.starts_with("stopped: sent "))?;
        let numbers = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|word| word.parse().ok())
            .collect();
        Some(Self {
            line: line.to_owned(),
            numbers,
        })
    }

    /// The same counts as the idle scrape, and nothing left at shutdown.
    fn matches(&self, scrape: &Accounting) -> bool {
        let dropped = scrape.dropped["queue_full"] + scrape.dropped["opt_out"];
        self.numbers
            == [
                scrape.sent,
                scrape.retried,
                scrape.rejected,
                scrape.failed,
                dropped,
                scrape.dropped["queue_full"],
                scrape.dropped["opt_out"],
                0,
                0,
            ]
    }
}

#[test]
fn serve_accounts_for_every_payload_under_chaos() {
    let length = Duration::from_secs(env_u64("SOAK_SECONDS", DEFAULT_SECONDS));
    let seed = env_u64("SOAK_SEED", DEFAULT_SEED);
    println!("soak: {length:?}, seed {seed}, {RATE} webhook calls a second");
    let dir = tempfile::tempdir().expect("temp dir");
    let files = Files::new(dir.path());
    let receiver = Receiver::chaotic(chaos(seed));
    let agent = Agent::start(serve(&receiver, &files));
    let mut rss = Rss {
        pid: agent.pid(),
        samples: Vec::new(),
    };

    let load = run_load(&agent, &files, length, &mut rss);
    let idle = quiesce(&agent, &files);
    let mut accounting = Accounting::agent(&idle, &load);
    let exit = agent.terminate(Duration::from_secs(60));
    accounting.backend(&receiver);
    accounting.summary = Summary::parse(&exit.stdout);
    accounting.print();

    let warm_up = length.mul_f64(WARM_UP_SHARE);
    let (baseline, peak) = rss.baseline_and_peak(warm_up);
    let bound = RSS_GROWTH_BOUND;
    println!(
        "  RSS after {warm_up:?} of warm-up: {} MiB, peak {} MiB, growth {:+.1} MiB (bound +{} MiB)",
        baseline / MIB,
        peak / MIB,
        (peak as f64 - baseline as f64) / MIB as f64,
        bound / MIB
    );

    assert!(exit.status.success(), "{exit:?}");
    assert!(
        !exit.stderr.contains("panicked"),
        "a panic:\n{}",
        exit.stderr
    );
    assert!(
        !exit.stderr.contains("crashed"),
        "a crash:\n{}",
        exit.stderr
    );
    let failures = accounting.failures();
    assert!(
        failures.is_empty(),
        "the accounting fails:\n{}",
        failures.join("\n")
    );
    assert!(peak - baseline <= bound, "RSS grew past the bound");
}

/// A small run whose figures add up, for the test of the checks themselves.
fn balanced() -> Accounting {
    let map = |pairs: &[(&'static str, u64)]| pairs.iter().copied().collect();
    Accounting {
        posted: 10,
        offs: 1,
        reviews: 10,
        received: 11,
        events_dropped: map(&[("intake_full", 0), ("disabled", 2), ("shutdown", 0)]),
        without_payload: 1,
        built: map(&[("stats", 1), ("create", 5), ("update", 2), ("delete", 0)]),
        sent: 6,
        rejected: 1,
        dropped: map(&[("queue_full", 0), ("opt_out", 1), ("shutdown", 0)]),
        swaps_ok: 1,
        answers: map(&[("200", 6), ("500", 1)]),
        accepted: 6,
        accepted_stats: 1,
        accepted_events: (0..5).map(|n| (version(n), 1)).collect(),
        summary: Summary::parse(&summary_line(0)),
        ..Accounting::default()
    }
}

fn summary_line(left: u64) -> String {
    format!(
        "stopped: sent 6, retried 0, rejected 1, failed 0, dropped 1 (queue full 0, opt-out 1); \
         left undelivered at shutdown: {left} payloads, 0 events not built"
    )
}

/// Changes one figure of a balanced run.
type Corruption = fn(&mut Accounting);

#[test]
fn the_checks_catch_what_does_not_add_up() {
    assert_eq!(balanced().failures(), Vec::<String>::new());
    // Each corruption, and words of the failure that must report it.
    let corruptions: [(Corruption, &str); 6] = [
        (|a| a.received += 1, "events: 12 received, 11"),
        (|a| a.built.extend([("delete", 1)]), "payloads: 9 built, 8"),
        (
            |a| a.accepted_events.extend([(version(0), 2)]),
            "accepted twice",
        ),
        (|a| a.accepted += 1, "the backend accepted 7"),
        (|a| a.rejected += 1, "2 rejected, but only 1 answers of 500"),
        (
            |a| a.summary = Summary::parse(&summary_line(1)),
            "the shutdown summary",
        ),
    ];
    for (corrupt, expected) in corruptions {
        let mut accounting = balanced();
        corrupt(&mut accounting);
        let failures = accounting.failures();
        assert!(
            failures.iter().any(|failure| failure.contains(expected)),
            "{expected:?} not in {failures:?}"
        );
    }
}
