//! The opt-out is absolute: with any one source set, `send` opens no socket at
//! all (checked with strace, so name lookups count too), the server sees no
//! connection, and the run says which source turned it off and exits 0.

use std::process::Command;

use crate::host_command;
use kamaji_telemetry_e2e::host::{Run, run, sample};
use kamaji_telemetry_e2e::receiver::Receiver;

/// Runs `send` under strace, recording every socket and connect call of
/// every thread, and returns the run and the recorded calls.
fn traced_send(receiver: &Receiver, configure: impl FnOnce(&mut Command)) -> (Run, Vec<String>) {
    let trace = tempfile_path();
    let host = host_command();
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-e", "trace=socket,connect", "-o"])
        .arg(&trace);
    command.arg(host.get_program());
    for (name, value) in host.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
        .args(["send", "--endpoint", &receiver.url()])
        .arg(sample("fleet.json"));
    configure(&mut command);
    let result = run(command);
    let calls = std::fs::read_to_string(&trace).expect("strace output");
    let _ = std::fs::remove_file(&trace);
    (result, calls.lines().map(str::to_string).collect())
}

fn tempfile_path() -> std::path::PathBuf {
    let unique = format!(
        "kamaji-telemetry-strace-{}-{:?}.txt",
        std::process::id(),
        std::thread::current().id()
    );
    std::env::temp_dir().join(unique.replace(['(', ')'], ""))
}

fn assert_silent_opt_out(configure: impl FnOnce(&mut Command), source: &str) {
    let receiver = Receiver::start();
    let (result, calls) = traced_send(&receiver, configure);
    assert!(
        result.success(),
        "being switched off is not a failure: {result:?}"
    );
    assert_eq!(
        result.stdout.trim(),
        format!("telemetry is disabled by {source}: nothing was sent"),
        "one line that names the source"
    );
    assert!(
        calls.is_empty(),
        "no socket may be opened, not even for a name lookup: {calls:#?}"
    );
    assert_eq!(receiver.connections(), 0);
}

#[test]
fn the_flag_after_the_command() {
    assert_silent_opt_out(|c| _ = c.arg("--disable-telemetry"), "--disable-telemetry");
}

#[test]
fn the_flag_before_the_command() {
    let receiver = Receiver::start();
    let result = run({
        let mut command = host_command();
        command.args([
            "--disable-telemetry=true",
            "send",
            "--endpoint",
            &receiver.url(),
        ]);
        command.arg(sample("fleet.json"));
        command
    });
    assert!(result.success(), "{result:?}");
    assert!(
        result.stdout.contains("disabled by --disable-telemetry"),
        "{}",
        result.stdout
    );
    assert_eq!(receiver.connections(), 0);
}

#[test]
fn the_project_variable() {
    assert_silent_opt_out(
        |c| _ = c.env("KAMAJI_TELEMETRY_DISABLED", "true"),
        "KAMAJI_TELEMETRY_DISABLED=true",
    );
}

#[test]
fn do_not_track() {
    assert_silent_opt_out(|c| _ = c.env("DO_NOT_TRACK", "1"), "DO_NOT_TRACK=1");
}

#[test]
fn a_false_flag_does_not_override_do_not_track() {
    assert_silent_opt_out(
        |c| _ = c.env("DO_NOT_TRACK", "1").arg("--disable-telemetry=false"),
        "DO_NOT_TRACK=1",
    );
}

#[test]
fn the_tracing_itself_sees_connections_when_telemetry_is_on() {
    // Guards the opt-out tests against a trace that records nothing.
    let receiver = Receiver::start();
    let (result, calls) = traced_send(&receiver, |_| {});
    assert!(result.success(), "{result:?}");
    assert!(
        calls.iter().any(|call| call.contains("connect(")),
        "{calls:#?}"
    );
    assert_eq!(receiver.connections(), 1);
}

#[test]
fn do_not_track_zero_keeps_telemetry_on() {
    let receiver = Receiver::start();
    let (result, _) = traced_send(&receiver, |c| _ = c.env("DO_NOT_TRACK", "0"));
    assert!(result.success(), "{result:?}");
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn preview_still_works_when_telemetry_is_off() {
    let mut command = host_command();
    command
        .env("DO_NOT_TRACK", "1")
        .args(["preview", "--output", "json"])
        .arg(sample("fleet.json"));
    let result = run(command);
    assert!(result.success(), "{result:?}");
    let line: serde_json::Value =
        serde_json::from_str(result.stdout.trim()).expect("one JSON line");
    assert_eq!(line["route"], "stats");
}

#[test]
fn local_mode_records_every_payload_and_opens_no_socket() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (result, calls) = traced_send(&receiver, |command| {
        command
            .args(["--mode", "local", "--local-dir"])
            .arg(dir.path());
    });
    assert!(result.success(), "{result:?}");
    assert!(
        result.stdout.contains("local mode: recorded 1 payloads"),
        "{}",
        result.stdout
    );
    assert!(
        calls.is_empty(),
        "local mode may open no socket, not even for a name lookup: {calls:#?}"
    );
    assert_eq!(receiver.connections(), 0);

    // What was recorded is what preview shows: the same body, the same report.
    let mut preview = host_command();
    preview
        .args(["preview", "--output", "json"])
        .arg(sample("fleet.json"));
    let preview = run(preview);
    let previewed: serde_json::Value = serde_json::from_str(preview.stdout.trim()).expect("JSON");
    let record = std::fs::read_dir(dir.path())
        .expect("the local directory")
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("a record file"))
        .collect::<String>();
    let recorded: serde_json::Value = serde_json::from_str(record.trim()).expect("one JSON line");
    assert_eq!(recorded["body"], previewed["body"]);
    assert_eq!(recorded["redactions"], previewed["redactions"]);
    assert!(
        recorded["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{recorded}"
    );

    let mut view = host_command();
    view.arg("view").arg(dir.path()).args(["--output", "json"]);
    let view = run(view);
    assert!(view.success(), "{view:?}");
    let summary: serde_json::Value = serde_json::from_str(view.stdout.trim()).expect("JSON");
    assert_eq!(summary["payloads"], 1);
    assert_eq!(summary["routes"], serde_json::json!({"stats": 1}));
    assert_eq!(summary["first"], recorded["at"]);
    assert_eq!(summary["unreadable"], serde_json::json!([]));
}

#[test]
fn local_mode_needs_a_directory() {
    let mut command = host_command();
    command
        .args(["send", "--mode", "local"])
        .arg(sample("fleet.json"));
    let result = run(command);
    assert!(!result.success());
    assert!(result.stderr.contains("--local-dir"), "{}", result.stderr);
}
