//! `kamaji-telemetry serve`, the real binary, against loopback servers: the
//! admission webhook, heartbeats, hot swaps under load, broken replacement
//! plugins, the runtime opt-out, the absolute opt-out, metrics and SIGTERM.
//!
//! Timing bounds are generous on purpose (a debug build on a loaded 2-core
//! machine); each test waits for states, never for exact durations.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::host::{WEBHOOK_SERVE, run, sample};
use kamaji_telemetry_e2e::receiver::{Received, Receiver, Reply};
use kamaji_telemetry_e2e::{default_plugin, hostile_plugin, plugin_variant};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(60);

/// `serve` on an ephemeral loopback port, delivering to `receiver`, with
/// short retries and fast file polling.
fn serve(receiver: &Receiver) -> Command {
    let mut command = host_command();
    command
        .args(WEBHOOK_SERVE)
        .arg("--endpoint")
        .arg(receiver.url());
    command.args([
        "--watch-interval",
        "100ms",
        "--retry-initial-backoff",
        "50ms",
        "--retry-max-interval",
        "200ms",
        "--retry-max-elapsed",
        "2s",
    ]);
    command
}

fn read_sample(name: &str) -> Vec<u8> {
    std::fs::read(sample(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// The sample CREATE review with its own uid and a TCP version that makes its
/// payload unique (the default plugin keeps the patch number).
fn create_review(n: usize) -> (String, Vec<u8>) {
    let mut review: Value =
        serde_json::from_slice(&read_sample("admission-create.json")).expect("sample JSON");
    let uid = format!("00000000-0000-4000-8000-{n:012}");
    review["request"]["uid"] = json!(uid);
    review["request"]["object"]["spec"]["kubernetes"]["version"] = json!(version(n));
    (uid, serde_json::to_vec(&review).expect("JSON"))
}

fn version(n: usize) -> String {
    format!("v1.{}.{}", 30 + n / 1000, n % 1000)
}

fn allowed(uid: &str) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": true}
    })
}

fn post_create(agent: &Agent, n: usize) {
    let (uid, review) = create_review(n);
    let (status, answer) = agent.post("/telemetry", review);
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("a JSON answer");
    assert_eq!(answer, allowed(&uid));
}

fn on_route(receiver: &Receiver, route: &str) -> Vec<Received> {
    receiver
        .requests()
        .into_iter()
        .filter(|request| request.path == route)
        .collect()
}

/// Writes by renaming, as Kubernetes and editors do: a poll never sees half a file.
fn replace_file(path: &Path, bytes: &[u8]) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, bytes).expect("write");
    std::fs::rename(&staged, path).expect("rename");
}

const SWAPS_OK: &str = "kamaji_telemetry_plugin_swaps_total{result=\"succeeded\"}";
const SWAPS_FAILED: &str = "kamaji_telemetry_plugin_swaps_total{result=\"failed\"}";
const ENABLED: &str = "kamaji_telemetry_telemetry_enabled";
const SENT: &str = "kamaji_telemetry_payloads_sent_total";
const DROPPED_OPT_OUT: &str = "kamaji_telemetry_payloads_dropped_total{reason=\"opt_out\"}";
const DROPPED_DISABLED: &str = "kamaji_telemetry_events_dropped_total{reason=\"disabled\"}";
const RELOADS_APPLIED: &str = "kamaji_telemetry_config_reloads_total{result=\"applied\"}";
const RELOADS_INVALID: &str = "kamaji_telemetry_config_reloads_total{result=\"invalid\"}";
const DO_NOT_TRACK_HOLDS: &str =
    "kamaji_telemetry_opt_out{source=\"do-not-track\",state=\"opted_out\"}";

#[test]
fn the_webhook_allows_every_review_echoes_its_uid_and_builds_off_the_request_path() {
    let receiver = Receiver::start();
    let agent = Agent::start(serve(&receiver));
    for name in [
        "admission-create.json",
        "admission-update.json",
        "admission-delete.json",
    ] {
        let review = read_sample(name);
        let uid = serde_json::from_slice::<Value>(&review).expect("JSON")["request"]["uid"].clone();
        let (status, answer) = agent.post("/telemetry", review);
        assert_eq!(status, 200, "{name}: {answer}");
        let answer: Value = serde_json::from_str(&answer).expect("JSON answer");
        assert_eq!(answer, allowed(uid.as_str().expect("a uid")), "{name}");
    }
    // A review of another kind is allowed too, and gives no event.
    let mut secret: Value =
        serde_json::from_slice(&read_sample("admission-create.json")).expect("JSON");
    secret["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "Secret"});
    let (status, _) = agent.post("/telemetry", serde_json::to_vec(&secret).expect("JSON"));
    assert_eq!(status, 200);
    // Not an AdmissionReview: 400 with a reason, never a hang.
    for body in [b"{not json".to_vec(), read_sample("fleet.json")] {
        let (status, message) = agent.post("/telemetry", body);
        assert_eq!(status, 400);
        assert!(message.contains("AdmissionReview"), "{message}");
    }

    eventually(SOON, "three payloads delivered", || {
        receiver.requests().len() >= 3
    });
    let mut routes: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
    routes.sort();
    assert_eq!(routes, ["/create", "/delete", "/update"]);
    for request in receiver.requests() {
        assert!(
            !request.body.contains("acme"),
            "an identifying string was sent: {}",
            request.body
        );
    }
    eventually(SOON, "the metrics count the deliveries", || {
        agent.metrics().value(SENT) == 3.0
    });
    let metrics = agent.metrics();
    for (series, value) in [
        (
            "kamaji_telemetry_webhook_reviews_total{result=\"event\"}",
            3.0,
        ),
        (
            "kamaji_telemetry_webhook_reviews_total{result=\"no_event\"}",
            1.0,
        ),
        (
            "kamaji_telemetry_webhook_reviews_total{result=\"invalid\"}",
            2.0,
        ),
        (
            "kamaji_telemetry_events_received_total{event=\"created\"}",
            1.0,
        ),
        (
            "kamaji_telemetry_events_received_total{event=\"updated\"}",
            1.0,
        ),
        (
            "kamaji_telemetry_events_received_total{event=\"deleted\"}",
            1.0,
        ),
        (
            "kamaji_telemetry_payloads_built_total{route=\"create\"}",
            1.0,
        ),
        (
            "kamaji_telemetry_payloads_built_total{route=\"update\"}",
            1.0,
        ),
        (
            "kamaji_telemetry_payloads_built_total{route=\"delete\"}",
            1.0,
        ),
        ("kamaji_telemetry_payloads_blocked_total", 0.0),
        ("kamaji_telemetry_queue_depth{queue=\"payloads\"}", 0.0),
        (ENABLED, 1.0),
    ] {
        assert_eq!(metrics.value(series), value, "{series}\n{}", metrics.0);
    }
    assert!(
        metrics.has("kamaji_telemetry_plugin_info{name=\"kamaji-telemetry-default\""),
        "{}",
        metrics.0
    );
    assert_eq!(agent.get_status("/healthz"), 200);
    assert_eq!(agent.get_status("/readyz"), 200);
}

#[test]
fn heartbeats_go_out_at_start_and_at_every_interval_from_the_fleet_file_read_each_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fleet = dir.path().join("fleet.json");
    std::fs::write(&fleet, read_sample("fleet.json")).expect("write");

    // A long interval: the one heartbeat is the one at start.
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command
        .arg("--fleet-file")
        .arg(&fleet)
        .args(["--heartbeat-interval", "1h"]);
    let agent = Agent::start(command);
    eventually(SOON, "a heartbeat at start", || {
        on_route(&receiver, "/stats").len() == 1
    });
    let body = on_route(&receiver, "/stats")[0].json();
    let counts = &body["tenant_control_plane"];
    let tcps: u64 = ["running", "upgrading", "not_ready", "sleeping"]
        .iter()
        .filter_map(|state| counts[state].as_u64())
        .sum();
    assert_eq!(tcps, 6, "{body}");
    drop(agent);

    // A short interval: more follow, each from the file as it is then.
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command
        .arg("--fleet-file")
        .arg(&fleet)
        .args(["--heartbeat-interval", "200ms"]);
    let agent = Agent::start(command);
    eventually(SOON, "three heartbeats", || {
        on_route(&receiver, "/stats").len() >= 3
    });
    let empty = json!({"apiVersion": "v1", "kind": "List", "items": []});
    replace_file(&fleet, &serde_json::to_vec(&empty).expect("JSON"));
    eventually(SOON, "a heartbeat of the rewritten file", || {
        on_route(&receiver, "/stats")
            .last()
            .is_some_and(|beat| beat.json()["tenant_control_plane"]["running"] == 0)
    });
    let beats = agent
        .metrics()
        .value("kamaji_telemetry_events_received_total{event=\"heartbeat\"}");
    assert!(beats >= 4.0, "{beats} heartbeats counted");
}

#[test]
fn without_a_snapshot_there_is_no_heartbeat_and_a_posted_one_starts_them() {
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command.args(["--heartbeat-interval", "100ms"]).env(
        "KAMAJI_TELEMETRY_LOG",
        "kamaji_telemetry::agent::heartbeat=debug,info",
    );
    let agent = Agent::start(command);
    // Three beats came and went without a snapshot.
    eventually(SOON, "three beats without a snapshot", || {
        agent.stderr().matches("no fleet snapshot yet").count() >= 3
    });
    assert!(
        on_route(&receiver, "/stats").is_empty(),
        "a heartbeat without a snapshot"
    );
    assert_eq!(
        agent
            .metrics()
            .value("kamaji_telemetry_events_received_total{event=\"heartbeat\"}"),
        0.0
    );

    let (status, answer) = agent.post("/v1/fleet", read_sample("fleet.json"));
    assert_eq!(status, 202, "{answer}");
    let counts: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(
        counts,
        json!({"tenant_control_planes": 6, "data_stores": 4})
    );
    eventually(SOON, "heartbeats from the posted snapshot", || {
        on_route(&receiver, "/stats").len() >= 2
    });
    let (status, _) = agent.post("/v1/fleet", read_sample("admission-create.json"));
    assert_eq!(status, 400, "an AdmissionReview is no fleet snapshot");
}

#[test]
fn swapping_the_plugin_under_a_steady_stream_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = dir.path().join("plugin.wasm");
    let original = std::fs::read(default_plugin()).expect("the default plugin");
    let variants = [plugin_variant(&original, 1), plugin_variant(&original, 2)];
    std::fs::write(&plugin, &original).expect("write");
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command.arg("--plugin").arg(&plugin);
    let agent = Agent::start(command);

    // Events flow the whole time; the plugin is replaced every ~200 ms, by
    // the file watch and by SIGHUP, until six swaps have gone through.
    let deadline = Instant::now() + Duration::from_secs(240);
    let (mut events, mut flips, mut last_flip) = (0, 0, Instant::now());
    while agent.metrics().value(SWAPS_OK) < 6.0 {
        assert!(
            Instant::now() < deadline,
            "six swaps did not happen\n{}",
            agent.stderr()
        );
        for _ in 0..5 {
            post_create(&agent, events);
            events += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        if last_flip.elapsed() > Duration::from_millis(200) {
            replace_file(&plugin, &variants[flips % 2]);
            if flips % 3 == 2 {
                agent.signal(libc::SIGHUP);
            }
            flips += 1;
            last_flip = Instant::now();
        }
    }
    for _ in 0..20 {
        post_create(&agent, events);
        events += 1;
    }

    eventually(Duration::from_secs(120), "every payload delivered", || {
        receiver.requests().len() >= events
    });
    // Nothing is left in the agent that could still arrive: the count is final.
    eventually(SOON, "both queues empty and every request counted", || {
        let metrics = agent.metrics();
        metrics.value("kamaji_telemetry_queue_depth{queue=\"events\"}") == 0.0
            && metrics.value("kamaji_telemetry_queue_depth{queue=\"payloads\"}") == 0.0
            && metrics.value(SENT) as usize == receiver.requests().len()
    });
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for request in receiver.requests() {
        assert_eq!(request.path, "/create");
        let version = request.json()["tcp_version"]
            .as_str()
            .expect("tcp_version")
            .to_owned();
        *seen.entry(version).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    let missing: Vec<String> = (0..events)
        .map(version)
        .filter(|v| !seen.contains_key(v))
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert_eq!(seen.len(), events);

    let metrics = agent.metrics();
    assert_eq!(metrics.value(SWAPS_FAILED), 0.0, "{}", agent.stderr());
    assert_eq!(metrics.value(SENT), events as f64);
    assert_eq!(
        metrics.value("kamaji_telemetry_events_received_total{event=\"created\"}"),
        events as f64
    );
    for reason in ["intake_full", "disabled", "shutdown"] {
        let series = format!("kamaji_telemetry_events_dropped_total{{reason=\"{reason}\"}}");
        assert_eq!(metrics.value(&series), 0.0, "{series}");
    }
    assert!(metrics.has("kamaji_telemetry_plugin_info{name=\"kamaji-telemetry-default\""));
}

#[test]
fn a_broken_replacement_plugin_is_refused_and_the_running_one_keeps_working() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = dir.path().join("plugin.wasm");
    let original = std::fs::read(default_plugin()).expect("the default plugin");
    std::fs::write(&plugin, &original).expect("write");
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command.arg("--plugin").arg(&plugin).args([
        "--plugin-timeout",
        "500ms",
        "--plugin-memory-mib",
        "64",
    ]);
    let agent = Agent::start(command);

    let broken: Vec<(&str, Vec<u8>)> = ["trap", "leak", "spin", "grow"]
        .into_iter()
        .map(|kind| {
            (
                kind,
                std::fs::read(hostile_plugin(kind)).expect("a hostile plugin"),
            )
        })
        .chain([("not a component", b"\0asm\x01\0\0\0".to_vec())])
        .collect();
    for (n, (kind, bytes)) in broken.iter().enumerate() {
        replace_file(&plugin, bytes);
        eventually(SOON, &format!("the {kind} plugin refused"), || {
            agent.metrics().value(SWAPS_FAILED) == (n + 1) as f64
        });
        post_create(&agent, n);
        eventually(
            SOON,
            &format!("the old plugin still delivers after {kind}"),
            || receiver.requests().len() == n + 1,
        );
        let body = receiver.requests()[n].json();
        assert_eq!(body["tcp_version"], version(n), "{kind}: {body}");
    }
    let metrics = agent.metrics();
    assert_eq!(metrics.value(SWAPS_OK), 0.0);
    assert!(metrics.has("kamaji_telemetry_plugin_info{name=\"kamaji-telemetry-default\""));
    assert_eq!(
        metrics.value("kamaji_telemetry_payloads_blocked_total"),
        0.0
    );
    let log = agent.stderr();
    assert!(log.contains("refused the new plugin"), "{log}");
    assert!(log.contains("leak guard"), "{log}");

    // A good plugin after the broken ones goes in.
    replace_file(&plugin, &plugin_variant(&original, 7));
    eventually(SOON, "a good plugin swapped in", || {
        agent.metrics().value(SWAPS_OK) == 1.0
    });
}

#[test]
fn the_config_file_turns_telemetry_off_dropping_the_queue_and_on_again_at_runtime() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("telemetry.yaml");
    std::fs::write(&config, "disabled: false\n").expect("write");
    // The first payload is answered at once; the next one takes a while, so
    // that the ones after it wait in the queue.
    let mut script = vec![Reply::status(200)];
    script.push(Reply::status(200).delayed(Duration::from_secs(5)));
    let receiver = Receiver::scripted(script);
    let mut command = serve(&receiver);
    command
        .arg("--config")
        .arg(&config)
        .args(["--timeout", "60s"]);
    let agent = Agent::start(command);

    post_create(&agent, 0);
    eventually(SOON, "delivered while on", || {
        agent.metrics().value(SENT) == 1.0
    });
    for n in 1..=4 {
        post_create(&agent, n);
    }
    // One in flight, three queued.
    eventually(SOON, "four payloads pending", || {
        agent
            .metrics()
            .value("kamaji_telemetry_queue_depth{queue=\"payloads\"}")
            == 4.0
    });

    replace_file(&config, b"disabled: true\n");
    eventually(SOON, "telemetry off", || {
        agent.metrics().value(ENABLED) == 0.0
    });
    // The three queued are dropped at once. The one on the wire finishes:
    // the receiver accepts it, so it is counted sent, not dropped.
    let metrics = agent.metrics();
    assert_eq!(metrics.value(DROPPED_OPT_OUT), 3.0);
    eventually(SOON, "the request on the wire counted sent", || {
        agent.metrics().value(SENT) == 2.0
    });
    assert_eq!(agent.metrics().value(DROPPED_OPT_OUT), 3.0);
    assert_eq!(
        agent
            .metrics()
            .value("kamaji_telemetry_queue_depth{queue=\"payloads\"}"),
        0.0
    );
    post_create(&agent, 5);
    eventually(SOON, "the event while off dropped", || {
        agent.metrics().value(DROPPED_DISABLED) == 1.0
    });
    // Dropped before the plugin: nothing of it can reach the receiver.
    assert_eq!(receiver.requests().len(), 2, "sent while off");
    assert!(
        agent
            .stderr()
            .contains("telemetry is disabled by `disabled: true`")
    );

    // An invalid file changes nothing.
    replace_file(&config, b"disable: false\n");
    eventually(SOON, "the invalid file counted", || {
        agent.metrics().value(RELOADS_INVALID) == 1.0
    });
    assert_eq!(agent.metrics().value(ENABLED), 0.0);

    replace_file(&config, b"disabled: false\n");
    eventually(SOON, "telemetry on again", || {
        agent.metrics().value(ENABLED) == 1.0
    });
    post_create(&agent, 6);
    eventually(SOON, "delivered again", || receiver.requests().len() == 3);
    assert_eq!(receiver.requests()[2].json()["tcp_version"], version(6));
}

#[test]
fn a_config_file_caught_mid_write_never_turns_telemetry_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("telemetry.yaml");
    std::fs::write(&config, "disabled: true\n").expect("write");
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command.arg("--config").arg(&config);
    let agent = Agent::start(command);
    assert_eq!(agent.metrics().value(ENABLED), 0.0);
    let mut posted = 0.0;
    let mut post_while_off = |what: &str| {
        post_create(&agent, posted as usize);
        posted += 1.0;
        eventually(SOON, what, || {
            agent.metrics().value(DROPPED_DISABLED) == posted
        });
        assert_eq!(agent.metrics().value(ENABLED), 0.0, "{what}");
    };

    // Truncated in place, then half written: each read is refused.
    std::fs::File::create(&config).expect("truncate");
    eventually(SOON, "the empty file refused", || {
        agent.metrics().value(RELOADS_INVALID) == 1.0
    });
    post_while_off("while the file is empty");
    std::fs::write(&config, "disabled:").expect("write half");
    eventually(SOON, "the half file refused", || {
        agent.metrics().value(RELOADS_INVALID) == 2.0
    });
    post_while_off("while the file is half written");
    std::fs::write(&config, "disabled: true\n").expect("write");
    eventually(SOON, "the whole file applied", || {
        agent.metrics().value(RELOADS_APPLIED) == 1.0
    });

    // Swapped by a rename, as ConfigMap volumes and editors do.
    replace_file(&config, b"# renamed\ndisabled: true\n");
    eventually(SOON, "the renamed file applied", || {
        agent.metrics().value(RELOADS_APPLIED) == 2.0
    });
    post_while_off("after a rename");

    // Deleted, then created again.
    std::fs::remove_file(&config).expect("delete");
    eventually(SOON, "the missing file noticed", || {
        agent.stderr().contains("cannot read the file")
    });
    post_while_off("while the file is missing");
    std::fs::write(&config, "# recreated\ndisabled: true\n").expect("recreate");
    eventually(SOON, "the recreated file applied", || {
        agent.metrics().value(RELOADS_APPLIED) == 3.0
    });
    post_while_off("after the file came back");

    assert!(receiver.requests().is_empty());
    assert_eq!(receiver.connections(), 0, "a connection was opened");
}

#[test]
fn the_absolute_opt_out_answers_webhooks_and_sends_nothing_whatever_the_config_file_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("telemetry.toml");
    std::fs::write(&config, "disabled = false\n").expect("write");
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command
        .env("DO_NOT_TRACK", "1")
        .arg("--config")
        .arg(&config)
        .arg("--fleet-file")
        .arg(sample("fleet.json"))
        .args(["--heartbeat-interval", "100ms"]);
    let agent = Agent::start(command);
    let disabled_lines: Vec<String> = agent
        .stdout()
        .lines()
        .filter(|line| line.contains("telemetry is disabled"))
        .map(str::to_owned)
        .collect();
    assert_eq!(disabled_lines.len(), 1, "{}", agent.stdout());
    assert!(
        disabled_lines[0].contains("DO_NOT_TRACK=1"),
        "{}",
        disabled_lines[0]
    );

    // Up (the listening line) and off for good: DO_NOT_TRACK holds it off,
    // nothing was loaded, and the config file is no source of the switch.
    let metrics = agent.metrics();
    assert_eq!(metrics.value(DO_NOT_TRACK_HOLDS), 1.0, "{}", metrics.0);
    assert_eq!(metrics.value(ENABLED), 0.0);
    assert!(
        !metrics.has("kamaji_telemetry_plugin_info{"),
        "a plugin was loaded"
    );

    let (status, _) = agent.post("/v1/fleet", read_sample("fleet.json"));
    assert_eq!(status, 409, "the fleet comes from --fleet-file");
    // The config file says on, changes, and SIGHUP asks every file watch to
    // read its file at once: an agent that followed it would count a reload
    // then, not after the ten webhook calls below are answered and counted.
    std::fs::write(&config, "# changed\ndisabled = false\n").expect("write");
    agent.signal(libc::SIGHUP);
    for n in 0..10 {
        post_create(&agent, n);
    }
    eventually(SOON, "every event dropped", || {
        agent.metrics().value(DROPPED_DISABLED) == 10.0
    });
    let metrics = agent.metrics();
    assert_eq!(metrics.value(RELOADS_APPLIED), 0.0, "the config file read");
    assert_eq!(metrics.value(RELOADS_INVALID), 0.0, "the config file read");
    assert_eq!(metrics.value(ENABLED), 0.0);
    assert_eq!(metrics.value(DO_NOT_TRACK_HOLDS), 1.0);
    assert!(receiver.requests().is_empty());
    assert_eq!(receiver.connections(), 0, "a connection was opened");
    assert_eq!(agent.get_status("/readyz"), 200);

    let exit = agent.terminate(SOON);
    assert!(exit.status.success(), "{exit:?}");
}

#[test]
fn sigterm_flushes_the_queue_and_reports_nothing_left() {
    let script = (0..5)
        .map(|_| Reply::status(200).delayed(Duration::from_millis(300)))
        .collect();
    let receiver = Receiver::scripted(script);
    let mut command = serve(&receiver);
    command.args(["--shutdown-timeout", "30s"]);
    let agent = Agent::start(command);
    for n in 0..5 {
        post_create(&agent, n);
    }
    eventually(SOON, "five payloads built", || {
        agent
            .metrics()
            .value("kamaji_telemetry_payloads_built_total{route=\"create\"}")
            == 5.0
    });
    assert!(
        agent.metrics().value(SENT) < 5.0,
        "the queue should still hold payloads"
    );
    let exit = agent.terminate(Duration::from_secs(60));
    assert!(exit.status.success(), "{exit:?}");
    assert_eq!(receiver.requests().len(), 5);
    assert!(
        exit.stdout.contains("stopped: sent 5,")
            && exit
                .stdout
                .contains("left undelivered at shutdown: 0 payloads, 0 events not built"),
        "{}",
        exit.stdout
    );
}

#[test]
fn sigterm_stops_at_the_shutdown_timeout_and_reports_what_was_left() {
    let script = (0..3)
        .map(|_| Reply::status(200).delayed(Duration::from_secs(60)))
        .collect();
    let receiver = Receiver::scripted(script);
    let mut command = serve(&receiver);
    command.args(["--shutdown-timeout", "1s", "--timeout", "120s"]);
    let agent = Agent::start(command);
    for n in 0..3 {
        post_create(&agent, n);
    }
    eventually(SOON, "three payloads pending", || {
        agent
            .metrics()
            .value("kamaji_telemetry_queue_depth{queue=\"payloads\"}")
            == 3.0
    });
    let exit = agent.terminate(Duration::from_secs(30));
    assert!(exit.status.success(), "{exit:?}");
    assert!(
        exit.stdout
            .contains("left undelivered at shutdown: 3 payloads"),
        "{}",
        exit.stdout
    );
}

#[test]
fn plain_http_off_loopback_is_refused_with_a_clear_error() {
    let mut command = host_command();
    command.args(["serve", "--events", "webhook", "--listen", "0.0.0.0:0"]);
    let result = run(command);
    assert!(!result.success(), "{result:?}");
    assert!(
        result
            .stderr
            .contains("refusing to serve plain HTTP on 0.0.0.0:0")
            && result.stderr.contains("--tls-cert"),
        "{}",
        result.stderr
    );
}

/// A self-signed certificate for 127.0.0.1, written as `tls.crt` and
/// `tls.key`; its PEM.
fn certificate(dir: &Path) -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    replace_file(&dir.join("tls.crt"), certified.cert.pem().as_bytes());
    replace_file(
        &dir.join("tls.key"),
        certified.signing_key.serialize_pem().as_bytes(),
    );
    certified.cert.pem()
}

/// A new client (no pooled connection, so a new handshake) trusting only `pem`.
fn trusting(pem: &str) -> reqwest::blocking::Client {
    let trusted = reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM");
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(trusted)
        .build()
        .expect("a TLS client")
}

/// Calls the webhook over HTTPS; the answer, or the error.
fn review_over_tls(
    client: &reqwest::blocking::Client,
    agent: &Agent,
    n: usize,
) -> Result<(), String> {
    let (uid, review) = create_review(n);
    let url = agent.url("/telemetry").replacen("http://", "https://", 1);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(review)
        .send()
        .map_err(|error| format!("{error:?}"))?;
    let answer: Value = serde_json::from_str(&response.text().expect("an answer")).expect("JSON");
    assert_eq!(answer, allowed(&uid));
    Ok(())
}

#[test]
fn the_webhook_speaks_tls_and_picks_up_a_renewed_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = certificate(dir.path());
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command
        .arg("--tls-cert")
        .arg(dir.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("tls.key"));
    let agent = Agent::start(command);
    assert!(
        agent.stdout().contains("listening on https://127.0.0.1:"),
        "{}",
        agent.stdout()
    );
    review_over_tls(&trusting(&first), &agent, 0).expect("an HTTPS call");
    eventually(SOON, "the payload delivered", || {
        receiver.requests().len() == 1
    });

    // A new pair, as cert-manager renews it: served without a restart.
    let second = certificate(dir.path());
    eventually(SOON, "the renewed certificate served", || {
        review_over_tls(&trusting(&second), &agent, 1).is_ok()
    });
    let stale = review_over_tls(&trusting(&first), &agent, 2);
    assert!(stale.is_err(), "the old certificate is still served");
}

/// The agent's `host:port`.
fn address(agent: &Agent) -> String {
    agent
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// Starts a fleet POST that says its body is `length` bytes and sends only
/// its headers: the connection is left open. It asks for `100 Continue`, so
/// that the agent says when it has taken the body's share of the budget and
/// waits for the body: a refused post gets its final answer instead.
fn start_fleet_post(agent: &Agent, length: usize) -> std::net::TcpStream {
    use std::io::Write;
    let mut connection = std::net::TcpStream::connect(address(agent)).expect("connect");
    write!(
        connection,
        "POST /v1/fleet HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {length}\r\n\r\n"
    )
    .expect("send the headers");
    connection
}

/// The status code of the first answer on `connection`: 100 when the body's
/// share was taken, else the final answer.
fn status_of(connection: &mut std::net::TcpStream) -> u16 {
    use std::io::Read;
    // Only so that a hung agent fails the test rather than hangs it.
    connection.set_read_timeout(Some(SOON)).expect("a timeout");
    let mut head = [0; 12];
    connection.read_exact(&mut head).expect("an answer");
    let head = String::from_utf8_lossy(&head);
    head[9..12].parse().unwrap_or_else(|_| panic!("{head}"))
}

#[test]
fn request_bodies_in_flight_are_held_to_a_memory_budget() {
    let receiver = Receiver::start();
    let agent = Agent::start(serve(&receiver));
    // 200 MB of the fleet route's 256 MiB, taken by a body that never comes:
    // another 100 MB post is refused with 429 meanwhile.
    let mut holder = start_fleet_post(&agent, 200_000_000);
    assert_eq!(status_of(&mut holder), 100, "the first post's share taken");
    let mut second = start_fleet_post(&agent, 100_000_000);
    assert_eq!(status_of(&mut second), 429);
    // One over the route's own limit is refused whatever the budget: 413.
    let mut huge = start_fleet_post(&agent, 300_000_000);
    assert_eq!(status_of(&mut huge), 413);
    // The webhook's budget is its own: admissions go on meanwhile.
    post_create(&agent, 1);
    // A closed connection gives its share back: the same 100 MB is taken.
    drop(holder);
    eventually(SOON, "100 MB taken once the holder is gone", || {
        status_of(&mut start_fleet_post(&agent, 100_000_000)) == 100
    });
}

#[test]
fn an_idle_connection_is_closed_after_the_header_read_timeout() {
    use std::io::Read;
    let receiver = Receiver::start();
    let agent = Agent::start(serve(&receiver));
    let mut idle = std::net::TcpStream::connect(address(&agent)).expect("connect");
    // The agent's timeout is 10 s; this one only keeps a hung agent from
    // hanging the test.
    idle.set_read_timeout(Some(SOON)).expect("a timeout");
    let read = idle.read(&mut [0; 64]);
    // Closed by the agent (end of stream, or reset), not timed out here.
    let timed_out = |error: &std::io::Error| {
        matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    assert!(
        matches!(&read, Ok(0)) || read.as_ref().is_err_and(|error| !timed_out(error)),
        "{read:?}"
    );
}

#[test]
fn local_mode_records_what_would_be_sent_and_connects_nowhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start();
    let mut command = serve(&receiver);
    command
        .args([
            "--heartbeat-interval",
            "200ms",
            "--mode",
            "local",
            "--local-dir",
        ])
        .arg(dir.path());
    let agent = Agent::start(command);
    for n in 0..3 {
        post_create(&agent, n);
    }
    let (status, _) = agent.post("/v1/fleet", read_sample("fleet.json"));
    assert_eq!(status, 202);
    eventually(SOON, "three creates and a heartbeat recorded", || {
        agent
            .metrics()
            .value("kamaji_telemetry_payloads_recorded_total")
            >= 4.0
    });
    let exit = agent.terminate(SOON);
    assert!(exit.status.success(), "{exit:?}");
    assert!(
        exit.stdout.contains("stopped: local mode recorded"),
        "{}",
        exit.stdout
    );
    assert_eq!(receiver.connections(), 0, "local mode opened a connection");

    let mut view = host_command();
    view.arg("view").arg(dir.path());
    let view = run(view);
    assert!(view.success(), "{view:?}");
    for n in 0..3 {
        assert!(view.stdout.contains(&version(n)), "{}", view.stdout);
    }
    assert!(view.stdout.contains("create 3"), "{}", view.stdout);
    assert!(view.stdout.contains("stats "), "{}", view.stdout);
}
