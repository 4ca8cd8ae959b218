//! `kamaji-telemetry plugin check`: the verdict `serve` would reach, and the
//! report around it, for good plugins and for each way of being refused.

use std::path::Path;

use crate::host_command;
use kamaji_telemetry_e2e::host::{Run, run, sample};
use kamaji_telemetry_e2e::{default_plugin, hostile_plugin};
use serde_json::Value;

fn check(plugin: &Path, extra: &[&str]) -> (Run, Value) {
    let mut command = host_command();
    command
        .args(["plugin", "check", "--output", "json"])
        .arg(plugin)
        .args(extra);
    let result = run(command);
    let report = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|error| panic!("not one JSON object ({error}): {result:?}"));
    (result, report)
}

fn results(report: &Value) -> Vec<&str> {
    report["self_test"]
        .as_array()
        .expect("self-test lines")
        .iter()
        .map(|line| line["result"].as_str().expect("a result"))
        .collect()
}

#[test]
fn the_default_plugin_is_accepted_with_its_costs_and_the_bodies_of_the_inputs() {
    let inputs: Vec<String> = ["admission-create.json", "fleet.json"]
        .map(|name| sample(name).display().to_string())
        .into_iter()
        .flat_map(|path| ["--input".to_owned(), path])
        .collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (result, report) = check(&default_plugin(), &inputs);
    assert!(result.success(), "{result:?}");
    assert_eq!(report["accepted"], true);
    assert_eq!(report["refusal"], Value::Null);
    assert_eq!(report["contract_version"], "0.2.0");
    assert_eq!(
        report["description"]["routes"],
        serde_json::json!(["stats", "create", "update", "delete"])
    );
    assert_eq!(
        report["description"]["reads"].as_array().map(Vec::len),
        Some(6)
    );
    assert_eq!(report["description"]["name"], "kamaji-telemetry-default");
    assert_eq!(
        report["imports"],
        serde_json::json!([{"name": "kamaji:telemetry/types@0.2.0", "status": "granted"}])
    );
    assert_eq!(results(&report), ["payload"; 4]);
    let size = std::fs::metadata(default_plugin())
        .expect("the plugin")
        .len();
    assert_eq!(report["size_bytes"], size);
    assert!(report["compile_ms"].as_f64().expect("a compile time") > 0.0);
    let limits = &report["limits"];
    let peak = limits["peak_memory_bytes"].as_u64().expect("a peak");
    assert!(peak > 0 && peak <= limits["memory_cap_bytes"].as_u64().expect("a cap"));
    let slowest = limits["slowest_call_ms"].as_f64().expect("a time");
    assert!(slowest > 0.0 && slowest < limits["deadline_ms"].as_f64().expect("a deadline"));
    let routes: Vec<&str> = report["inputs"]
        .as_array()
        .expect("bodies")
        .iter()
        .map(|body| body["route"].as_str().expect("a route"))
        .collect();
    assert_eq!(routes, ["create", "stats"]);
}

#[test]
fn a_plugin_that_declines_some_kinds_of_event_is_accepted() {
    let (result, report) = check(&hostile_plugin("quiet"), &[]);
    assert!(result.success(), "{result:?}");
    assert_eq!(
        results(&report),
        ["nothing", "nothing", "nothing", "payload"]
    );
}

#[test]
fn whatever_serve_would_refuse_fails_the_check_and_says_why() {
    for (kind, reason) in [
        ("silent", "no payload for any event"),
        ("leak", "leak guard"),
        ("trap", "trapped"),
    ] {
        let (result, report) = check(&hostile_plugin(kind), &[]);
        assert!(!result.success(), "{kind}: {result:?}");
        assert_eq!(report["accepted"], false, "{kind}");
        let refusal = report["refusal"].as_str().expect("a refusal");
        assert!(refusal.contains(reason), "{kind}: {refusal}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let core_module = dir.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").expect("write");
    let (result, report) = check(&core_module, &[]);
    assert!(!result.success(), "{result:?}");
    assert!(
        report["refusal"]
            .as_str()
            .expect("a refusal")
            .contains("core WebAssembly module"),
        "{report}"
    );
}

#[test]
fn a_wasi_plugin_runs_in_the_closed_profile_and_its_output_is_logged_under_its_name() {
    let (result, report) = check(&hostile_plugin("wasi"), &[]);
    let imports = report["imports"].as_array().expect("imports");
    assert!(
        imports.iter().any(|import| import["status"] == "stubbed"
            && import["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("wasi:cli/environment@"))),
        "{report}"
    );
    assert!(
        imports.iter().all(|import| import["status"] != "denied"),
        "{report}"
    );
    // It refuses every event, with what it found: nothing.
    let refusal = report["refusal"].as_str().expect("a refusal");
    assert!(refusal.contains("environment: [];"), "{refusal}");
    assert!(refusal.contains("tcp: refused"), "{refusal}");
    assert!(
        result.stderr.contains("hostile-wasi looked around")
            && result.stderr.contains("hostile-hostile-plugin"),
        "{}",
        result.stderr
    );
}

#[test]
fn the_text_report_ends_with_the_verdict() {
    let mut command = host_command();
    command
        .args(["plugin", "check"])
        .arg(hostile_plugin("leak"));
    let result = run(command);
    assert!(!result.success(), "{result:?}");
    let last = result.stdout.lines().last().expect("a report");
    assert!(
        last.starts_with("verdict     refused:"),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("self-test   created"),
        "{}",
        result.stdout
    );
}
