//! The opt-out is absolute: with any one source set, `send` opens no socket at
//! all (checked with strace, so name lookups count too), the server sees no
//! connection, and the run says which source turned it off and exits 0.

use std::process::Command;

use kamaji_telemetry_e2e::host::{Run, host_command, run, sample};
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
