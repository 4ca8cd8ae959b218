//! Old plugins keep loading, as a user sees it: the frozen 0.1.0 build of the
//! default plugin previews the same bodies as today's 0.2.0 default, and a
//! running `serve` swaps from one to the other and back without losing an event.

use std::path::PathBuf;
use std::time::Duration;

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::host::{WEBHOOK_SERVE, run, sample};
use kamaji_telemetry_e2e::receiver::Receiver;
use kamaji_telemetry_e2e::{default_plugin, workspace_root};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(60);

fn frozen_plugin() -> PathBuf {
    workspace_root().join("tests/fixtures/plugins/kamaji-telemetry-plugin-0.1.0.wasm")
}

const SAMPLES: [&str; 4] = [
    "admission-create.json",
    "admission-update.json",
    "admission-delete.json",
    "fleet.json",
];

/// `preview --output json` of every sample with `plugin`: (route, body) per line.
fn preview(plugin: &PathBuf) -> Vec<(String, String)> {
    let mut command = host_command();
    command
        .arg("--plugin")
        .arg(plugin)
        .args(["preview", "--output", "json"])
        .args(SAMPLES.map(sample));
    let result = run(command);
    assert!(result.success(), "{result:?}");
    result
        .stdout
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).expect("a JSON line");
            (line["route"].to_string(), line["body"].to_string())
        })
        .collect()
}

#[test]
fn the_old_and_the_new_default_preview_the_same_bodies() {
    let old = preview(&frozen_plugin());
    let new = preview(&default_plugin());
    assert_eq!(old.len(), 4, "{old:?}");
    assert_eq!(old, new);
}

#[test]
fn describe_names_the_contract_and_what_the_plugin_reads() {
    let describe = |plugin: &PathBuf| {
        let mut command = host_command();
        command
            .arg("--plugin")
            .arg(plugin)
            .args(["plugin", "describe", "--output", "json"]);
        let result = run(command);
        assert!(result.success(), "{result:?}");
        serde_json::from_str::<Value>(&result.stdout).expect("one JSON object")
    };
    let old = describe(&frozen_plugin());
    assert_eq!(old["contract"], "0.1.0");
    assert_eq!(old["routes"], Value::Null);
    assert_eq!(old["reads"].as_array().map(Vec::len), Some(13));
    let new = describe(&default_plugin());
    assert_eq!(new["contract"], "0.2.0");
    assert_eq!(
        new["routes"],
        json!(["stats", "create", "update", "delete"])
    );
    assert_eq!(
        new["reads"],
        json!([
            "cluster-uid",
            "versions",
            "status",
            "exposure",
            "owner-kinds",
            "drivers"
        ])
    );
}

fn create_review(n: usize) -> Vec<u8> {
    let mut review: Value =
        serde_json::from_slice(&std::fs::read(sample("admission-create.json")).expect("sample"))
            .expect("sample JSON");
    review["request"]["uid"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    review["request"]["object"]["spec"]["kubernetes"]["version"] = json!(format!("v1.30.{n}"));
    serde_json::to_vec(&review).expect("JSON")
}

#[test]
fn serve_swaps_from_the_new_contract_to_the_old_and_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = dir.path().join("plugin.wasm");
    let new = std::fs::read(default_plugin()).expect("the default plugin");
    let old = std::fs::read(frozen_plugin()).expect("the frozen plugin");
    std::fs::write(&plugin, &new).expect("write");
    let receiver = Receiver::start();
    let mut command = host_command();
    command
        .args(WEBHOOK_SERVE)
        .args(["--watch-interval", "100ms", "--endpoint"])
        .arg(receiver.url())
        .arg("--plugin")
        .arg(&plugin);
    let agent = Agent::start(command);
    let contract = |version: &str| format!("contract=\"{version}\"");
    let info_has = |version: &str| {
        agent.metrics().0.lines().any(|line| {
            line.starts_with("kamaji_telemetry_plugin_info{") && line.contains(&contract(version))
        })
    };
    eventually(SOON, "the 0.2.0 plugin in /metrics", || info_has("0.2.0"));

    let mut sent = 0;
    for (swaps, (bytes, version)) in [(&old, "0.1.0"), (&new, "0.2.0")].into_iter().enumerate() {
        let (status, answer) = agent.post("/telemetry", create_review(sent));
        assert_eq!(status, 200, "{answer}");
        sent += 1;
        eventually(SOON, "the event delivered", || {
            receiver.requests().len() == sent
        });
        let staged = plugin.with_extension("staged");
        std::fs::write(&staged, bytes).expect("write");
        std::fs::rename(&staged, &plugin).expect("rename");
        eventually(SOON, &format!("swapped to {version}"), || {
            agent
                .metrics()
                .value("kamaji_telemetry_plugin_swaps_total{result=\"succeeded\"}")
                == (swaps + 1) as f64
        });
        assert!(info_has(version), "{}", agent.metrics().0);
        assert!(!info_has(if version == "0.1.0" {
            "0.2.0"
        } else {
            "0.1.0"
        }));
    }
    let (status, answer) = agent.post("/telemetry", create_review(sent));
    assert_eq!(status, 200, "{answer}");
    sent += 1;
    eventually(SOON, "every event delivered", || {
        receiver.requests().len() == sent
    });
    let versions: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|request| request.json()["tcp_version"].clone())
        .collect();
    assert_eq!(
        versions,
        [json!("v1.30.0"), json!("v1.30.1"), json!("v1.30.2")]
    );
}
