//! The example plugins of PLUGINS.md, one per language (examples/rust,
//! examples/js built by componentize-js, examples/python built by
//! componentize-py, both with their default settings), through the real
//! binary: `preview`, `plugin check` and `serve` against a loopback receiver.
//!
//! All three implement the same plugin, so they must give the same bytes.
//! Each language is one test that runs `preview` first: it compiles the
//! component into the shared cache that `serve` then starts from (`plugin
//! check` compiles on its own, to measure what a first start costs).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::example_plugin;
use kamaji_telemetry_e2e::host::{Run, WEBHOOK_SERVE, run, run_with_stdin, sample};
use kamaji_telemetry_e2e::receiver::Receiver;
use serde_json::{Value, json};

/// What every example sends for `samples/admission-create.json`, whose TCP
/// asks for `v1.31.0`.
const CREATE_BODY: &str = r#"{"event":"create","tcp_minor":"1.31"}"#;

/// Long enough for a debug build to compile a 20 MB component.
const SOON: Duration = Duration::from_secs(120);

const SAMPLES: [&str; 4] = [
    "admission-create.json",
    "admission-update.json",
    "admission-delete.json",
    "fleet.json",
];

/// The redaction report every example gives with its payload.
fn redactions() -> Value {
    let dropped = [
        "installation.cluster-uid",
        "tenant-control-plane.name",
        "tenant-control-plane.namespace",
        "tenant-control-plane.uid",
        "tenant-control-plane.labels",
        "tenant-control-plane.annotations",
        "tenant-control-plane.owner-references",
    ]
    .map(|field| {
        json!({
            "field": field,
            "action": "dropped",
            "reason": "This plugin sends no other input field.",
        })
    });
    let mut report = vec![json!({
        "field": "tenant-control-plane.desired-version",
        "action": "normalised",
        "reason": "Only its major and minor numbers are sent.",
    })];
    report.extend(dropped);
    Value::Array(report)
}

fn with_plugin(plugin: &Path) -> Command {
    let mut command = host_command();
    command.arg("--plugin").arg(plugin);
    command
}

/// The lines `preview --output json` printed, parsed.
fn json_lines(result: &Run) -> Vec<Value> {
    result
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"))
        })
        .collect()
}

/// The sample CREATE review with another `spec.kubernetes.version`, or none.
fn create_review(version: Option<&str>) -> String {
    let text = std::fs::read_to_string(sample("admission-create.json")).expect("the sample");
    let mut review: Value = serde_json::from_str(&text).expect("sample JSON");
    let spec = &mut review["request"]["object"]["spec"]["kubernetes"];
    match version {
        Some(version) => spec["version"] = json!(version),
        None => {
            spec.as_object_mut().expect("an object").remove("version");
        }
    }
    serde_json::to_string(&review).expect("JSON")
}

fn preview(language: &str, plugin: &Path) {
    // The samples: one payload, for the creation; nothing for the update,
    // the deletion and the fleet.
    let mut command = with_plugin(plugin);
    command.args(["preview", "--output", "json"]);
    command.args(SAMPLES.map(sample));
    let result = run(command);
    assert!(result.success(), "{language}: {result:?}");
    let lines = json_lines(&result);
    assert_eq!(lines.len(), 1, "{language}: {}", result.stdout);
    assert_eq!(lines[0]["route"], "create", "{language}");
    assert_eq!(
        lines[0]["body"].to_string(),
        CREATE_BODY,
        "{language}: the body's bytes"
    );
    assert_eq!(lines[0]["redactions"], redactions(), "{language}");

    // Versions as clusters write them, cut to MAJOR.MINOR; none, or one that
    // is not a version, gives null. Text output: the body as sent.
    let cases = [
        (Some("v1.30.2-eks-5e0fdde"), r#""1.30""#),
        (Some("V1.09.10+k3s1"), r#""1.9""#),
        (Some("1.28"), r#""1.28""#),
        (Some("latest"), "null"),
        (Some("v1"), "null"),
        (None, "null"),
    ];
    let stream: String = cases
        .iter()
        .map(|(version, _)| create_review(*version) + "\n")
        .collect();
    let mut command = with_plugin(plugin);
    command.args(["preview", "-"]);
    let result = run_with_stdin(command, stream.as_bytes());
    assert!(result.success(), "{language}: {result:?}");
    let bodies: Vec<&str> = result
        .stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .collect();
    let expected: Vec<String> = cases
        .iter()
        .map(|(_, minor)| format!(r#"{{"event":"create","tcp_minor":{minor}}}"#))
        .collect();
    assert_eq!(bodies, expected, "{language}: {}", result.stdout);
    assert!(
        result
            .stderr
            .contains("preview: 6 payloads, 0 events with nothing to send, 0 blocked, 0 plugin failures, 0 bad documents"),
        "{language}: {}",
        result.stderr
    );
}

fn check(language: &str, plugin: &Path) {
    let mut command = host_command();
    command
        .args(["plugin", "check", "--output", "json"])
        .arg(plugin);
    command.arg("--input").arg(sample("admission-create.json"));
    command.arg("--input").arg(sample("fleet.json"));
    let result = run(command);
    let report: Value = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|error| panic!("{language}: not one JSON object ({error}): {result:?}"));
    assert!(result.success(), "{language}: {result:?}");
    assert_eq!(report["accepted"], true, "{language}: {report}");
    assert_eq!(report["contract_version"], "0.1.0", "{language}");
    assert_eq!(
        report["description"],
        json!({
            "name": format!("example-{language}"),
            "version": "0.1.0",
            "wire_schema": "kamaji-telemetry-example/v1",
            // Contract 0.1.0 declares nothing: such a plugin is shown every
            // field and may send to any route.
            "reads": [
                "cluster-uid", "versions", "status", "exposure", "identity", "labels",
                "annotations", "owner-kinds", "owner-identity", "addresses",
                "data-store-names", "drivers", "used-by"
            ],
            "routes": null,
        }),
        "{language}"
    );
    let results: Vec<(&str, &str)> = report["self_test"]
        .as_array()
        .expect("self-test lines")
        .iter()
        .map(|line| {
            (
                line["event"].as_str().expect("an event"),
                line["result"].as_str().expect("a result"),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("created", "payload"),
            ("updated", "nothing"),
            ("deleted", "nothing"),
            ("heartbeat", "nothing"),
        ],
        "{language}: {report}"
    );
    assert_eq!(
        report["inputs"]
            .as_array()
            .expect("bodies")
            .iter()
            .map(|line| (line["route"].clone(), line["body"].clone()))
            .collect::<Vec<_>>(),
        [(json!("create"), json!(CREATE_BODY))],
        "{language}: {report}"
    );
    // What each language's build imports, and how the host links it.
    let imports: Vec<(&str, &str)> = report["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .map(|import| {
            (
                import["name"].as_str().expect("a name"),
                import["status"].as_str().expect("a status"),
            )
        })
        .collect();
    assert!(
        imports.contains(&("kamaji:telemetry/types@0.1.0", "granted")),
        "{language}: {imports:?}"
    );
    for (name, status) in &imports {
        let expected = match *name {
            "kamaji:telemetry/types@0.1.0" => "granted",
            // componentize-js links fetch() to wasi:http by default: linked
            // to traps, never called by this plugin.
            name if name.starts_with("wasi:http/") => "denied",
            name if name.starts_with("wasi:") => "stubbed",
            _ => "unexpected",
        };
        assert_eq!(*status, expected, "{language}: {name}");
    }
    let wasi = imports.iter().filter(|(name, _)| name.starts_with("wasi:"));
    match language {
        // Built for wasm32-unknown-unknown: the contract's types and nothing else.
        "rust" => assert_eq!(imports.len(), 1, "{imports:?}"),
        // The runtimes of JS and Python need WASI: the closed profile answers it.
        _ => assert!(wasi.count() > 10, "{language}: {imports:?}"),
    }
    let size = std::fs::metadata(plugin).expect("the plugin").len();
    assert_eq!(report["size_bytes"], size, "{language}");
}

fn serve(language: &str, plugin: &Path) {
    let receiver = Receiver::start();
    let mut command = with_plugin(plugin);
    command
        .args(WEBHOOK_SERVE)
        .arg("--endpoint")
        .arg(receiver.url());
    let agent = Agent::start(command);
    for name in SAMPLES.iter().take(3) {
        let review = std::fs::read(sample(name)).expect("a sample");
        let (status, answer) = agent.post("/telemetry", review);
        assert_eq!(status, 200, "{language}: {name}: {answer}");
    }
    let metrics = |series: &str| agent.metrics().value(series);
    eventually(SOON, "the three events handled", || {
        ["created", "updated", "deleted"].iter().all(|event| {
            metrics(&format!(
                "kamaji_telemetry_events_received_total{{event=\"{event}\"}}"
            )) == 1.0
        })
    });
    eventually(SOON, "the create payload delivered", || {
        metrics("kamaji_telemetry_payloads_sent_total") == 1.0
    });
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{language}: {requests:?}");
    assert_eq!(requests[0].method, "POST", "{language}");
    assert_eq!(requests[0].path, "/create", "{language}");
    assert_eq!(
        requests[0].body, CREATE_BODY,
        "{language}: the body's bytes"
    );
    assert!(
        agent.metrics().has(&format!(
            "kamaji_telemetry_plugin_info{{name=\"example-{language}\""
        )),
        "{language}: {}",
        agent.metrics().0
    );
    assert_eq!(metrics("kamaji_telemetry_payloads_blocked_total"), 0.0);
    let exit = agent.terminate(Duration::from_secs(30));
    assert!(exit.status.success(), "{language}: {exit:?}");
    assert_eq!(
        receiver.requests().len(),
        1,
        "{language}: nothing more sent"
    );
}

fn preview_check_and_serve(language: &str) {
    let plugin = example_plugin(language);
    preview(language, &plugin);
    serve(language, &plugin);
    check(language, &plugin);
}

#[test]
fn the_rust_example_previews_passes_the_check_and_serves() {
    preview_check_and_serve("rust");
}

/// componentize-js imports wasi:http, whose types re-export wasi:io's
/// streams: the host links them to the closed profile's own resource types.
#[test]
fn the_javascript_example_previews_passes_the_check_and_serves() {
    preview_check_and_serve("js");
}

/// Up to about 30 s on a fresh clone, and it must be: componentize-py's
/// component is 18 MB (the CPython interpreter inside), which the debug
/// host compiles with cranelift twice: for `preview` (then cached, so
/// `serve` reuses it) and for `plugin check`, which always compiles, as the
/// check of a new plugin must. A later run finds the first in the cache.
#[test]
fn the_python_example_previews_passes_the_check_and_serves() {
    preview_check_and_serve("python");
}
