//! `kamaji-telemetry preview` and `plugin describe` as a user runs them:
//! real kubectl-style input in, wire-format payloads out, nothing sent.

use crate::host_command;
use kamaji_telemetry_e2e::host::{run, run_with_stdin, sample};
use kamaji_telemetry_e2e::memory;
use kamaji_telemetry_e2e::receiver::Receiver;
use kamaji_telemetry_e2e::{default_plugin, hostile_plugin, workspace_root};

fn preview_json(inputs: &[std::path::PathBuf]) -> kamaji_telemetry_e2e::host::Run {
    let mut command = host_command();
    command.args(["preview", "--output", "json"]).args(inputs);
    run(command)
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn json_output_is_one_object_per_payload() {
    let inputs = [
        "admission-create.json",
        "admission-update.json",
        "admission-delete.json",
        "fleet.json",
    ];
    let result = preview_json(&inputs.map(sample));
    assert!(result.success(), "{result:?}");
    let lines = json_lines(&result.stdout);
    let routes: Vec<&str> = lines
        .iter()
        .map(|line| line["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["create", "update", "delete", "stats"]);
    for line in &lines {
        assert!(line["body"].is_object(), "{line}");
        let redactions = line["redactions"].as_array().expect("a redaction report");
        assert!(!redactions.is_empty(), "{line}");
        for redaction in redactions {
            assert!(
                ["dropped", "normalised", "pseudonymised"]
                    .contains(&redaction["action"].as_str().unwrap())
            );
        }
    }
}

#[test]
fn text_output_shows_route_body_and_report() {
    let mut command = host_command();
    command.arg("preview").arg(sample("admission-create.json"));
    let result = run(command);
    assert!(result.success(), "{result:?}");
    assert!(result.stdout.contains("POST /create"), "{}", result.stdout);
    assert!(
        result.stdout.contains(r#""network_profile":"ingress""#),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("dropped installation.cluster-uid"),
        "{}",
        result.stdout
    );
    assert!(
        result.stderr.contains("nothing was sent"),
        "{}",
        result.stderr
    );
}

#[test]
fn nothing_identifying_from_the_samples_reaches_a_body() {
    let inputs = [
        "admission-create.json",
        "admission-update.json",
        "admission-delete.json",
        "fleet.json",
    ];
    let result = preview_json(&inputs.map(sample));
    assert!(result.success(), "{result:?}");
    let lines = json_lines(&result.stdout);
    let routes: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["route"].as_str())
        .collect();
    assert_eq!(
        routes,
        ["create", "update", "delete", "stats"],
        "{}",
        result.stdout
    );
    // The identifying inputs the plugin was shown are accounted for in each
    // payload's report: dropped, pseudonymised, or (used-by) counted. Names,
    // labels and the rest it declared it does not read: it is never shown them.
    for line in &lines {
        let withheld: Vec<&str> = line["redactions"]
            .as_array()
            .expect("a redaction report")
            .iter()
            .filter_map(|redaction| redaction["field"].as_str())
            .collect();
        let expected = if line["route"] == "stats" {
            ["installation.cluster-uid", ".used-by"].as_slice()
        } else {
            ["installation.cluster-uid"].as_slice()
        };
        for field in expected {
            assert!(
                withheld.iter().any(|withheld| withheld.ends_with(field)),
                "{field} not withheld in the report: {line}"
            );
        }
    }
    // Names, namespaces, hosts and addresses that stand in the sample files,
    // looked for in the bodies as they are sent: JSON text, escapes and all.
    let bodies: Vec<String> = lines.iter().map(|line| line["body"].to_string()).collect();
    for input in inputs {
        let text = std::fs::read_to_string(sample(input)).unwrap();
        let document: serde_json::Value = serde_json::from_str(&text).unwrap();
        let secrets = identifying_strings(&document);
        assert!(secrets.len() >= 3, "{input}: {secrets:?}");
        for secret in secrets {
            let escaped = serde_json::to_string(&secret).expect("JSON");
            for body in &bodies {
                let lower = body.to_lowercase();
                assert!(
                    !lower.contains(&secret.to_lowercase())
                        && !body.contains(escaped.trim_matches('"')),
                    "{secret:?} from {input} leaked into {body}"
                );
            }
        }
    }
}

/// Every metadata name, namespace, uid, label and annotation value, and every
/// hostname, found anywhere in a Kubernetes document.
fn identifying_strings(value: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found.retain(|value| value.len() >= 4);
    found
}

fn collect(value: &serde_json::Value, found: &mut Vec<String>) {
    const KEYS: [&str; 7] = [
        "name",
        "namespace",
        "uid",
        "hostname",
        "address",
        "controlPlaneEndpoint",
        "dataStore",
    ];
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                if let (true, Some(text)) = (KEYS.contains(&key.as_str()), child.as_str()) {
                    found.push(text.to_string());
                }
                if key == "labels" || key == "annotations" {
                    let values = child.as_object().into_iter().flatten();
                    found.extend(values.filter_map(|(_, v)| v.as_str().map(str::to_string)));
                }
                collect(child, found);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
        _ => {}
    }
}

#[test]
fn kamajis_own_yaml_manifests_are_read() {
    let dir = workspace_root().join("tests/fixtures/kamaji/samples");
    let tcp = dir.join("kamaji_v1alpha1_tenantcontrolplane.yaml");
    assert!(
        tcp.is_file(),
        "Kamaji's samples are missing: {}",
        tcp.display()
    );
    let result = preview_json(&[
        tcp,
        dir.join("kamaji_v1alpha1_tenantcontrolplane_gateway.yaml"),
    ]);
    assert!(result.success(), "{result:?}");
    let lines = json_lines(&result.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["body"]["tcp_version"], "v1.35.7");
    assert_eq!(lines[0]["body"]["network_profile"], "load_balancer");
    // Gateway exposure has no value of its own; the service is ClusterIP.
    assert_eq!(lines[1]["body"]["network_profile"], "cluster_ip");
}

#[test]
fn a_bad_document_is_named_and_the_others_still_go_through() {
    let good = std::fs::read_to_string(sample("admission-create.json")).unwrap();
    let stream = format!("{good}\n{{\"kind\": \"AdmissionReview\", oops}}\n{good}");
    let mut command = host_command();
    command.args(["preview", "--output", "json", "-"]);
    let result = run_with_stdin(command, stream.as_bytes());
    assert!(
        !result.success(),
        "a bad document fails the run: {result:?}"
    );
    assert_eq!(
        json_lines(&result.stdout).len(),
        2,
        "both good documents gave a payload"
    );
    assert!(
        result.stderr.contains("stdin: document 2"),
        "{}",
        result.stderr
    );
    let bad_line = stream
        .lines()
        .position(|line| line.contains("oops"))
        .unwrap()
        + 1;
    let position = format!("(line {bad_line}, column ");
    assert!(
        result.stderr.contains(&position),
        "the position is named: {}",
        result.stderr
    );
}

#[test]
fn a_missing_input_file_is_a_clear_error() {
    let mut command = host_command();
    command.args(["preview", "/nonexistent/tcp.json"]);
    let result = run(command);
    assert!(!result.success());
    assert!(
        result.stderr.contains("cannot read /nonexistent/tcp.json"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_plugin_that_is_not_a_component_is_refused_clearly() {
    let mut command = host_command();
    command
        .arg("--plugin")
        .arg(sample("fleet.json"))
        .args(["plugin", "describe"]);
    let result = run(command);
    assert!(!result.success());
    assert!(
        result.stderr.contains("not a WebAssembly component"),
        "{}",
        result.stderr
    );
}

#[test]
fn describe_lists_every_field_in_every_format() {
    let mut command = host_command();
    command
        .args(["plugin", "describe", "--output", "json"])
        .arg("--plugin")
        .arg(default_plugin());
    let result = run(command);
    assert!(result.success(), "{result:?}");
    let description: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(description["name"], "kamaji-telemetry-default");
    assert_eq!(description["wire_schema"], "kamaji-telemetry/v1");
    let fields = description["fields"].as_array().unwrap();
    for required in [
        "uuid",
        "tcp_version",
        "old_tcp_version",
        "new_tcp_version",
        "status",
        "cluster_api",
    ] {
        assert!(
            fields.iter().any(|field| field["name"] == required),
            "{required} is documented"
        );
    }
    let mut table = host_command();
    table.args(["plugin", "describe"]);
    let table = run(table);
    assert!(table.success(), "{table:?}");
    assert!(
        table.stdout.contains("tenant_control_plane.running"),
        "{}",
        table.stdout
    );
}

#[test]
fn the_readme_table_is_what_the_plugin_says() {
    let mut command = host_command();
    command.args(["plugin", "describe", "--output", "markdown"]);
    let result = run(command);
    assert!(result.success(), "{result:?}");
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&result.stdout),
        "README.md is stale: run `make docs`"
    );
}

#[test]
fn an_endless_plugin_fails_each_event_clearly_and_the_run_goes_on() {
    let mut command = host_command();
    command
        .arg("--plugin")
        .arg(hostile_plugin("spin"))
        .args(["--plugin-timeout", "200ms"]);
    command.arg("preview").args([
        sample("admission-create.json"),
        sample("admission-delete.json"),
    ]);
    let result = run(command);
    assert!(!result.success());
    let deadlines = result.stderr.matches("deadline").count();
    assert_eq!(
        deadlines, 2,
        "both events were tried and stopped: {}",
        result.stderr
    );
}

#[test]
fn a_plugin_that_copies_a_name_is_blocked_and_nothing_is_sent() {
    let receiver = Receiver::start();
    let mut command = host_command();
    command.arg("--plugin").arg(hostile_plugin("leak"));
    command
        .args(["send", "--endpoint", &receiver.url()])
        .arg(sample("admission-create.json"));
    let result = run(command);
    assert!(!result.success(), "{result:?}");
    assert!(result.stdout.contains("blocked 1"), "{}", result.stdout);
    assert!(
        result.stderr.contains("tenant-control-plane.name"),
        "names the field: {}",
        result.stderr
    );
    assert_eq!(receiver.connections(), 0, "nothing was sent");
}

#[test]
fn a_plugin_that_traps_or_grows_fails_its_event_with_the_reason() {
    for (kind, reason) in [("trap", "trapped"), ("grow", "memory")] {
        let mut command = host_command();
        command
            .arg("--plugin")
            .arg(hostile_plugin(kind))
            .args(["--plugin-memory-mib", "32"]);
        command.arg("preview").arg(sample("admission-create.json"));
        let result = run(command);
        assert!(!result.success(), "{kind}: {result:?}");
        assert!(result.stderr.contains(reason), "{kind}: {}", result.stderr);
    }
}

#[test]
fn an_empty_input_is_a_clear_error() {
    let mut command = host_command();
    command.args(["preview", "-"]);
    let result = run_with_stdin(command, b"  \n");
    assert!(!result.success(), "{result:?}");
    assert!(
        result.stderr.contains("stdin: no Kubernetes document"),
        "{}",
        result.stderr
    );
}

/// A run of the binary with its peak resident memory.
struct Measured {
    run: kamaji_telemetry_e2e::host::Run,
    peak_mib: u64,
}

/// Runs `command`, feeding its stdin with `feed` on a thread of its own,
/// and reads its peak memory when it is reaped: exact, however short the run
/// (`kamaji_telemetry_e2e::memory`).
fn run_measured(
    mut command: std::process::Command,
    feed: impl FnOnce(std::process::ChildStdin) + Send + 'static,
) -> Measured {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = memory::spawn(
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || feed(stdin));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let reaped = memory::reap(child);
    let _ = feeder.join();
    let peak = reaped.peak;
    eprintln!(
        "peak {} KiB (this test process: {} KiB)",
        peak.kib, peak.parent_kib
    );
    // Otherwise the figure may be this process's, charged to the child at
    // its exec, and would say nothing of the binary.
    assert!(peak.is_its_own(), "{peak:?}");
    Measured {
        run: kamaji_telemetry_e2e::host::Run {
            status: reaped.status.code(),
            stdout: stdout.join().expect("stdout"),
            stderr: stderr.join().expect("stderr"),
        },
        peak_mib: peak.mib(),
    }
}

/// What `preview /dev/zero` may peak at. It peaks at 36 MiB in a debug
/// build (read by wait4): the bound leaves room for another build, and is
/// below the 256 MiB that reading on past the first byte would gather before
/// the document size limit cut it.
const PEAK_BOUND_MIB: u64 = 160;

#[test]
fn preview_of_dev_zero_stops_at_once_with_a_reason_and_little_memory() {
    let mut command = host_command();
    command.args(["preview", "/dev/zero"]);
    let measured = run_measured(command, drop);
    let run = &measured.run;
    assert!(!run.success(), "{run:?}");
    assert!(run.stderr.contains("a NUL byte"), "{}", run.stderr);
    assert!(
        measured.peak_mib < PEAK_BOUND_MIB,
        "{} MiB",
        measured.peak_mib
    );
}

#[test]
fn preview_holds_one_document_at_a_time_and_one_file_at_a_time() {
    // ConfigMaps of 16 MiB (skipped: no Kamaji kind). Reading 256 MiB of
    // them, four files of four, must peak where reading one alone does:
    // holding a second document, or a whole file, would add 16 MiB or more.
    let dir = tempfile::tempdir().expect("temp dir");
    let alone = write_config_maps(dir.path().join("one.json"), 1);
    let four = write_config_maps(dir.path().join("four.json"), 4);
    let peak_of = |files: &[&std::path::PathBuf], skipped: &str| {
        let mut command = host_command();
        // glibc raises its mmap threshold past a freed document's size, and
        // then keeps the next ones' buffers resident once freed (13 MiB more
        // here): the allocator's cache, not what preview holds. A fixed
        // threshold hands each back to the system when it is freed.
        command.env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576");
        command.arg("preview").args(files);
        let measured = run_measured(command, drop);
        let run = &measured.run;
        assert!(run.success(), "{run:?}");
        assert!(run.stderr.contains(skipped), "{}", run.stderr);
        measured.peak_mib
    };
    let one = peak_of(&[&alone], "1 skipped");
    let all = peak_of(&[&four; 4], "16 skipped");
    assert!(
        all <= one + DOCUMENT_SLACK_MIB,
        "one document: {one} MiB; sixteen in four files: {all} MiB"
    );
}

/// Writes `count` ConfigMaps of 16 MiB each, streamed: this test process
/// never holds one, so that it charges the binary it spawns next little (see
/// `kamaji_telemetry_e2e::memory`).
fn write_config_maps(path: std::path::PathBuf, count: usize) -> std::path::PathBuf {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let chunk = [b'x'; 1 << 16];
    for _ in 0..count {
        let head =
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"blob":""#;
        file.write_all(head.as_bytes()).expect("write");
        for _ in 0..(16 << 20) / chunk.len() {
            file.write_all(&chunk).expect("write");
        }
        file.write_all(b"\"}}\n").expect("write");
    }
    file.flush().expect("flush");
    path
}

/// What a run over many documents may peak above one over a single one of
/// the same size: a quarter of a document. Measured: 1 MiB (51 and 52 MiB).
const DOCUMENT_SLACK_MIB: u64 = 4;

#[test]
fn preview_prints_each_document_of_a_pipe_as_soon_as_it_is_complete() {
    use std::io::{BufRead, Write};
    let mut command = host_command();
    command.args(["preview", "--output", "json", "-"]);
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the host binary");
    let mut stdin = child.stdin.take().expect("stdin");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let create = std::fs::read(sample("admission-create.json")).expect("a sample");
    for _ in 0..2 {
        // One document, as `kubectl get -w -o json` prints it, and the pipe
        // stays open: its payload must come before anything else is written.
        stdin.write_all(&create).expect("write a document");
        stdin.flush().expect("flush");
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the payload of the document written, while the pipe is open");
        let payload: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(payload["route"], "create", "{payload}");
    }
    drop(stdin);
    assert!(child.wait().expect("the binary ends").success());
}
