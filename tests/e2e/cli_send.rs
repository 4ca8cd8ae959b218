//! `kamaji-telemetry send` against a real HTTP server on loopback: routes,
//! bodies and headers, retries, rejections, a backend that is down, and many
//! payloads delivered at once.

use std::time::Duration;

use crate::host_command;
use kamaji_telemetry_e2e::host::{run, sample};
use kamaji_telemetry_e2e::receiver::{Receiver, Reply};

/// `send` with quick retries, so that tests of retrying take milliseconds.
fn send_to(url: &str, inputs: &[&str]) -> std::process::Command {
    let mut command = host_command();
    command.args(["send", "--endpoint", url, "--retry-initial-backoff", "50ms"]);
    command.args(["--retry-max-interval", "200ms", "--retry-max-elapsed", "3s"]);
    command.args(inputs.iter().map(|name| sample(name)));
    command
}

/// What Kamaji's backend must receive for each sample, byte for byte: the
/// wire format v1, with the test installation (see `host::CLUSTER_UID`,
/// whose pseudonym under the plugin's namespace is checked independently:
/// python3 -c 'import uuid; print(uuid.uuid5(uuid.UUID("59d6df90-757b-5e91-a80f-50c72fe2dc0e"), "6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3"))').
const EXPECTED: [(&str, &str, &str); 4] = [
    (
        "admission-create.json",
        "/create",
        r#"{"kamaji_version":"v1.0.0","kubernetes_version":"v1.30.2","tcp_version":"v1.31.0","cluster_api":true,"network_profile":"ingress"}"#,
    ),
    (
        "admission-update.json",
        "/update",
        r#"{"kamaji_version":"v1.0.0","kubernetes_version":"v1.30.2","old_tcp_version":"v1.30.2","new_tcp_version":"v1.31.0"}"#,
    ),
    (
        "admission-delete.json",
        "/delete",
        r#"{"kamaji_version":"v1.0.0","kubernetes_version":"v1.30.2","tcp_version":"v1.29.4","status":"NotReady"}"#,
    ),
    (
        "fleet.json",
        "/stats",
        r#"{"uuid":"e52e529d-51d5-5587-aa66-b2ea79f9d878","kamaji_version":"v1.0.0","kubernetes_version":"v1.30.2","tenant_control_plane":{"running":3,"upgrading":1,"not_ready":1,"sleeping":1},"datastores":{"etcd":{"count":1,"used_by_count":2},"postgres":{"count":1,"used_by_count":1},"mysql":{"count":1,"used_by_count":2},"nats":{"count":1,"used_by_count":1}}}"#,
    ),
];

#[test]
fn every_route_receives_exactly_the_expected_body_and_headers() {
    let receiver = Receiver::start();
    let inputs: Vec<&str> = EXPECTED.iter().map(|(file, _, _)| *file).collect();
    // One at a time: what arrives, in what order, over how many connections.
    let mut command = send_to(&receiver.url(), &inputs);
    command.args(["--max-in-flight", "1"]);
    let result = run(command);
    assert!(result.success(), "{result:?}");
    assert!(
        result
            .stdout
            .contains("sent 4, retried 0, dropped 0, blocked 0"),
        "{}",
        result.stdout
    );

    let requests = receiver.requests();
    assert_eq!(requests.len(), EXPECTED.len(), "{requests:#?}");
    for ((file, path, body), request) in EXPECTED.iter().zip(&requests) {
        assert_eq!(request.method, "POST", "{file}");
        assert_eq!(request.path, *path, "{file}");
        assert_eq!(request.body, *body, "{file}");
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/json"),
            "{file}"
        );
        let agent = request.user_agent.as_deref().unwrap_or_default();
        assert!(
            agent.starts_with("kamaji-telemetry/")
                && agent.contains("plugin/kamaji-telemetry-default/"),
            "user agent names the host and the plugin: {agent}"
        );
    }
    assert_eq!(
        receiver.connections(),
        1,
        "one connection, reused for every payload"
    );
}

#[test]
fn a_503_is_retried_and_delivered() {
    let receiver = Receiver::scripted(vec![Reply::status(503)]);
    let result = run(send_to(&receiver.url(), &["admission-create.json"]));
    assert!(result.success(), "{result:?}");
    assert!(
        result.stdout.contains("sent 1, retried 1"),
        "{}",
        result.stdout
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the retry sends the same body"
    );
}

#[test]
fn a_429_with_retry_after_waits_that_long() {
    let receiver = Receiver::scripted(vec![Reply::status(429).retry_after("1")]);
    let result = run(send_to(&receiver.url(), &["admission-create.json"]));
    assert!(result.success(), "{result:?}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    // Retry-After beats the 50 ms backoff; the upper bound is only a sanity check.
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}

#[test]
fn a_400_is_not_retried_and_is_reported() {
    let receiver = Receiver::scripted(vec![Reply::status(400)]);
    let result = run(send_to(&receiver.url(), &["admission-create.json"]));
    assert!(
        !result.success(),
        "a rejected payload fails the run: {result:?}"
    );
    assert_eq!(receiver.requests().len(), 1, "400 is never retried");
    assert!(
        result.stdout.contains("sent 0, retried 0"),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("rejected 1"), "{}", result.stdout);
}

#[test]
fn a_backend_that_is_down_gives_a_clear_report_and_a_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = run(send_to(
        &format!("http://127.0.0.1:{port}"),
        &["admission-create.json"],
    ));
    assert!(!result.success(), "{result:?}");
    assert!(result.stdout.contains("sent 0"), "{}", result.stdout);
    assert!(result.stdout.contains("failed 1"), "{}", result.stdout);
    let all = format!("{}{}", result.stdout, result.stderr);
    assert!(
        all.to_lowercase().contains("connect"),
        "the report says why: {all}"
    );
}

#[test]
fn stdin_works_as_input() {
    let receiver = Receiver::start();
    let mut command = send_to(&receiver.url(), &[]);
    command.arg("-");
    let input = std::fs::read(sample("admission-create.json")).unwrap();
    let result = kamaji_telemetry_e2e::host::run_with_stdin(command, &input);
    assert!(result.success(), "{result:?}");
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn many_payloads_arrive_exactly_once_over_a_few_connections() {
    // Every answer takes 50 ms, longer than building a payload takes: the
    // requests pile up to the limit (the default allows 8 at once), each one
    // beyond the first on a connection of its own, whatever the speed of the
    // machine.
    let slow = Reply::status(200).delayed(Duration::from_millis(50));
    let receiver = Receiver::scripted(vec![slow; 300]);
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, mut expected) = creations(dir.path(), 300);
    let mut command = send_to(&receiver.url(), &[]);
    command.arg(&input);
    let result = run(command);
    assert!(result.success(), "{result:?}");
    assert!(
        result.stdout.contains("sent 300, retried 0, dropped 0"),
        "{}",
        result.stdout
    );

    let requests = receiver.requests();
    assert!(requests.iter().all(|request| request.path == "/create"));
    let mut versions: Vec<String> = requests
        .iter()
        .map(|request| {
            request.json()["tcp_version"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    versions.sort();
    expected.sort();
    assert_eq!(versions, expected, "every payload exactly once");
    assert!(receiver.connections() > 1, "payloads went out side by side");
    // The bound is on requests, not connections: the client's pool takes a
    // connection back a moment after its answer, so a request starting in
    // that moment may open one more, which the pool then keeps.
    let peak = receiver.peak_concurrency();
    assert!(
        (2..=8).contains(&peak),
        "{peak} requests at once: more than one, at most --max-in-flight's default"
    );
}

/// `count` creations of the sample's TCP, one compact document a line, each
/// with a version of its own so that its payload can be told apart. Returns
/// the file and the `tcp_version` each payload must carry.
fn creations(dir: &std::path::Path, count: usize) -> (std::path::PathBuf, Vec<String>) {
    let sample = std::fs::read(sample("admission-create.json")).expect("read the sample");
    let mut review: serde_json::Value = serde_json::from_slice(&sample).expect("sample is JSON");
    let mut lines = String::new();
    let mut versions = Vec::new();
    for n in 0..count {
        let version = format!("v1.31.{n}");
        review["request"]["object"]["spec"]["kubernetes"]["version"] = version.clone().into();
        lines.push_str(&review.to_string());
        lines.push('\n');
        versions.push(version);
    }
    let path = dir.join("creations.json");
    std::fs::write(&path, lines).expect("write the input");
    (path, versions)
}
