//! The Helm chart (charts/kamaji-telemetry), through Helm's own engine
//! (helm-python-sdk's Go library, driven by tests/support/helm.py): rendered
//! and linted, compared with `kamaji-telemetry manifests` object by object,
//! checked against the Kubernetes schemas, refused with a clear message for a
//! wrong value, installed off and turned on, round-tripped through a real
//! registry, and its dashboard's queries checked against a running agent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::host::run;
use kamaji_telemetry_e2e::kube_api::FakeApi;
use kamaji_telemetry_e2e::receiver::Receiver;
use kamaji_telemetry_e2e::registry::Registry;
use kamaji_telemetry_e2e::{helm_python, validate_kubernetes, workspace_root};
use serde::Deserialize;
use serde_json::Value;

use crate::host_command;

const SOON: Duration = Duration::from_secs(60);
const NAMESPACE: &str = "kamaji-system";
/// The management clusters' versions Kamaji's releases support.
const KUBERNETES_VERSIONS: [&str; 4] = ["1.30.0", "1.31.0", "1.32.0", "1.33.0"];

fn chart_dir() -> PathBuf {
    workspace_root().join("charts/kamaji-telemetry")
}

/// `python3 tests/support/helm.py ARGS`: its JSON answer, or its error.
fn helm(args: &[&str]) -> Result<Value, String> {
    let output = Command::new("python3")
        .arg(workspace_root().join("tests/support/helm.py"))
        .args(args)
        .env("PYTHONPATH", helm_python())
        .output()
        .expect("run python3");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).expect("helm.py answers JSON"))
}

/// The chart rendered by Helm with `--set` expressions, in `namespace`.
fn render_in(namespace: &str, sets: &[&str]) -> Result<Vec<Value>, String> {
    let chart = chart_dir();
    let mut args = vec!["render", chart.to_str().expect("a UTF-8 path"), namespace];
    for expression in sets {
        args.extend(["--set", expression]);
    }
    let rendered = helm(&args)?;
    Ok(rendered["documents"].as_array().expect("documents").clone())
}

fn render(sets: &[&str]) -> Vec<Value> {
    render_in(NAMESPACE, sets).unwrap_or_else(|error| panic!("{sets:?}: {error}"))
}

fn manifests(args: &[&str]) -> Vec<Value> {
    let mut command = host_command();
    command.arg("manifests").args(args);
    let result = run(command);
    assert!(result.success(), "{result:?}");
    serde_yaml_ng::Deserializer::from_str(&result.stdout)
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .collect()
}

/// The objects by kind and name.
fn by_identity(documents: Vec<Value>) -> BTreeMap<(String, String), Value> {
    documents
        .into_iter()
        .map(|document| {
            let kind = document["kind"].as_str().expect("a kind").to_owned();
            let name = document["metadata"]["name"]
                .as_str()
                .expect("a name")
                .to_owned();
            ((kind, name), document)
        })
        .collect()
}

fn assert_same_objects(chart: Vec<Value>, manifests: Vec<Value>, what: &str) {
    let (chart, manifests) = (by_identity(chart), by_identity(manifests));
    let chart_keys: BTreeSet<_> = chart.keys().collect();
    let manifest_keys: BTreeSet<_> = manifests.keys().collect();
    assert_eq!(chart_keys, manifest_keys, "{what}: not the same objects");
    for (identity, object) in &manifests {
        assert_eq!(
            &chart[identity], object,
            "{what}: {identity:?} differs\nchart:     {}\nmanifests: {object}",
            chart[identity]
        );
    }
}

#[test]
fn at_default_values_the_chart_installs_what_manifests_prints() {
    assert_same_objects(render(&[]), manifests(&[]), "defaults");
}

#[test]
fn each_value_that_manifests_has_a_flag_for_renders_as_the_flag() {
    let image = "registry.example/kt:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let plugin = "oci://registry.example/plugins/kt@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let cases: [(&[&str], &[&str]); 3] = [
        (&["events=webhook"], &["--events", "webhook"]),
        (&["telemetry.disabled=true"], &["--disable-telemetry"]),
        (&[&format!("plugin={plugin}")], &["--plugin", plugin]),
    ];
    for (sets, flags) in cases {
        assert_same_objects(render(sets), manifests(flags), &format!("{sets:?}"));
    }
    let (repository, tag) = image.split_once(":v1").expect("a tag");
    let with_image = render(&[
        &format!("image.repository={repository}"),
        &format!("image.tag=v1{tag}"),
    ]);
    assert_same_objects(with_image, manifests(&["--image", image]), "image");
    let elsewhere = render_in("telemetry", &[]).expect("renders");
    assert_same_objects(
        elsewhere,
        manifests(&["--namespace", "telemetry"]),
        "namespace",
    );
}

#[test]
fn the_chart_lints_clean_under_strict() {
    let chart = chart_dir();
    let report = helm(&["lint", chart.to_str().expect("UTF-8")]).expect("lint runs");
    assert_eq!(report["total_charts_linted"], 1, "{report}");
    let errors = report["errors"].as_array().expect("errors");
    assert!(errors.is_empty(), "{report}");
    let serious: Vec<&Value> = report["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|message| message["severity"].as_u64() >= Some(2))
        .collect();
    assert!(serious.is_empty(), "{report}");
}

/// Every document passes kubernetes-validate --strict at every supported
/// version; the Prometheus Operator's ServiceMonitor is a custom resource
/// with no schema there, so it is checked by its shape instead.
#[test]
fn every_rendered_document_passes_the_strict_kubernetes_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let variants: [&[&str]; 4] = [
        &[],
        &["events=webhook", "dashboard.enabled=true"],
        &[
            "telemetry.disabled=true",
            "kamajiDeployment=none",
            "replicaCount=1",
        ],
        &[
            "nodeSelector.kubernetes\\.io/os=linux",
            "extraArgs={--retry-max-elapsed=1m}",
            "heartbeatInterval=10m",
            "endpoint=https://telemetry.example/v1",
        ],
    ];
    for (index, sets) in variants.iter().enumerate() {
        let documents = render(sets);
        assert!(documents.len() >= 8, "{sets:?}: {documents:?}");
        let path = dir.path().join(format!("variant-{index}.yaml"));
        let text: String = documents
            .iter()
            .map(|document| format!("---\n{}", serde_yaml_ng::to_string(document).expect("YAML")))
            .collect();
        std::fs::write(&path, &text).expect("write");
        for version in KUBERNETES_VERSIONS {
            if let Err(report) = validate_kubernetes(&path, Some(version)) {
                panic!("{sets:?} at {version}: {report}\n{text}");
            }
        }
    }
    let monitored = render(&["serviceMonitor.enabled=true"]);
    let monitor = monitored
        .iter()
        .find(|document| document["kind"] == "ServiceMonitor")
        .expect("a ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http");
}

#[test]
fn a_wrong_value_is_refused_at_install_naming_its_key() {
    for (set, key) in [
        ("telemetry.disabled=maybe", "disabled"),
        ("events=polling", "events"),
        ("replicaCount=0", "replicaCount"),
        ("kamajiDeployment=kamaji", "kamajiDeployment"),
        ("plugin=/plugins/custom.wasm", "plugin"),
        ("heartbeatInterval=soon", "heartbeatInterval"),
        ("telemetry.enabled=true", "enabled"),
    ] {
        let refused = render_in(NAMESPACE, &[set]).expect_err(set);
        assert!(
            refused.contains("values don't meet the specifications of the schema")
                && refused.contains(key),
            "{set}: {refused}"
        );
    }
}

#[test]
fn the_dashboard_comes_with_its_value_and_only_then() {
    let has_dashboard = |documents: &[Value]| {
        documents
            .iter()
            .any(|document| document["metadata"]["labels"]["grafana_dashboard"] == "1")
    };
    assert!(!has_dashboard(&render(&[])));
    let with = render(&["dashboard.enabled=true"]);
    assert!(has_dashboard(&with));
    let config_map = with
        .iter()
        .find(|document| document["metadata"]["name"] == "kamaji-telemetry-dashboard")
        .expect("the dashboard's ConfigMap");
    let dashboard: Value = serde_json::from_str(
        config_map["data"]["kamaji-telemetry.json"]
            .as_str()
            .expect("the dashboard's JSON"),
    )
    .expect("valid JSON");
    assert_eq!(dashboard["uid"], "kamaji-telemetry");
}

/// The metric names a PromQL expression reads.
fn metric_names(expression: &str) -> BTreeSet<String> {
    use promql_parser::parser::{self, Expr};
    fn walk(expr: &Expr, names: &mut BTreeSet<String>) {
        match expr {
            Expr::VectorSelector(selector) => {
                names.extend(selector.name.clone());
            }
            Expr::MatrixSelector(matrix) => {
                names.extend(matrix.vs.name.clone());
            }
            Expr::Aggregate(aggregate) => {
                walk(&aggregate.expr, names);
                if let Some(param) = &aggregate.param {
                    walk(param, names);
                }
            }
            Expr::Unary(unary) => walk(&unary.expr, names),
            Expr::Binary(binary) => {
                walk(&binary.lhs, names);
                walk(&binary.rhs, names);
            }
            Expr::Paren(paren) => walk(&paren.expr, names),
            Expr::Subquery(subquery) => walk(&subquery.expr, names),
            Expr::Call(call) => {
                for argument in &call.args.args {
                    walk(argument, names);
                }
            }
            Expr::Extension(_) | Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        }
    }
    let parsed = parser::parse(expression)
        .unwrap_or_else(|error| panic!("not PromQL: {expression}: {error}"));
    let mut names = BTreeSet::new();
    walk(&parsed, &mut names);
    names
}

/// The sample names a `/metrics` answer exposes (`name_total`,
/// `name_bucket`, ...): those it has samples for, and those of every family
/// it declares, which a counter by status code has before its first error.
fn exposed(metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declared.split_once(' ').expect("# TYPE name kind");
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
        } else if !line.starts_with('#') && !line.is_empty() {
            names.extend(line.split(['{', ' ']).next().map(str::to_owned));
        }
    }
    names
}

#[test]
fn every_metric_the_dashboard_queries_is_one_a_running_agent_exposes() {
    let text = std::fs::read_to_string(chart_dir().join("dashboards/kamaji-telemetry.json"))
        .expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("JSON");
    let expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().expect("an expression").to_owned())
        .collect();
    assert!(expressions.len() >= 12, "{expressions:?}");
    let wanted: BTreeSet<String> = expressions.iter().flat_map(|e| metric_names(e)).collect();

    // serve as the chart runs it (the watch, a Lease), against a fake cluster.
    let dir = tempfile::tempdir().expect("temp dir");
    let api = FakeApi::start();
    let receiver = Receiver::start();
    let mut command = host_command();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--endpoint"])
        .arg(receiver.url())
        .arg("--kubeconfig")
        .arg(api.kubeconfig(dir.path()))
        .args(["--heartbeat-interval", "1h"]);
    let agent = Agent::start(command);
    eventually(SOON, "a heartbeat delivered", || {
        !receiver.requests().is_empty()
    });
    let metrics = exposed(&agent.metrics().0);
    let missing: Vec<&String> = wanted.difference(&metrics).collect();
    assert!(
        missing.is_empty(),
        "queried but not exposed: {missing:?}\nexposed: {metrics:?}"
    );
}

/// `helm install --set telemetry.disabled=true`, then `helm upgrade --set
/// telemetry.disabled=false`: the agent, given the rendered ConfigMap and
/// arguments, sends nothing and watches no TenantControlPlane, then
/// heartbeats without a restart.
#[test]
fn installed_off_it_sends_nothing_until_upgraded_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = FakeApi::start();
    api.create_tcp("tenant-a", "one", "v1.30.2");
    let receiver = Receiver::start();
    let config = dir.path().join("telemetry.yaml");
    let installed = render(&["telemetry.disabled=true"]);
    std::fs::write(&config, config_file(&installed)).expect("write the ConfigMap's file");
    let mut command = host_command();
    command
        .args(chart_args(&installed, dir.path()))
        .args(["--listen", "127.0.0.1:0", "--endpoint"])
        .arg(receiver.url())
        .arg("--kubeconfig")
        .arg(api.kubeconfig(dir.path()))
        .args([
            "--watch-interval",
            "100ms",
            "--heartbeat-interval",
            "1h",
            "--log-format",
            "text",
        ]);
    let agent = Agent::start(command);
    let off = "kamaji_telemetry_opt_out{source=\"config-file\",state=\"opted_out\"}";
    eventually(
        SOON,
        "off by the ConfigMap, and the Deployment read",
        || {
            agent.metrics().get(off) == Some(1.0)
                && api
                    .calls()
                    .iter()
                    .any(|call| call.path.contains("/deployments"))
        },
    );
    let fleet_calls = || {
        api.calls()
            .iter()
            .filter(|call| !call.path.contains("/deployments"))
            .count()
    };
    assert_eq!(fleet_calls(), 0, "{:?}", api.calls());
    assert_eq!(receiver.connections(), 0);

    let upgraded = render(&["telemetry.disabled=false"]);
    std::fs::write(&config, config_file(&upgraded)).expect("the kubelet updates the file");
    eventually(SOON, "a heartbeat once on", || {
        !receiver.requests().is_empty()
    });
    assert!(fleet_calls() > 0);
}

/// The ConfigMap's `telemetry.yaml`.
fn config_file(documents: &[Value]) -> String {
    documents
        .iter()
        .find(|document| document["kind"] == "ConfigMap")
        .and_then(|config_map| config_map["data"]["telemetry.yaml"].as_str())
        .expect("the ConfigMap's telemetry.yaml")
        .to_owned()
}

/// The Deployment's arguments, with its mounted paths under `dir`, and
/// without `--listen` and `--log-format` (the test's own follow).
fn chart_args(documents: &[Value], dir: &Path) -> Vec<String> {
    let deployment = documents
        .iter()
        .find(|document| document["kind"] == "Deployment")
        .expect("a Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|arg| arg.as_str().expect("a string").to_owned())
        .filter(|arg| !arg.starts_with("--listen=") && !arg.starts_with("--log-format="))
        .map(|arg| {
            arg.replace("/etc/kamaji-telemetry", &dir.display().to_string())
                .replace(
                    "/var/cache/kamaji-telemetry",
                    &dir.join("cache").display().to_string(),
                )
        })
        .collect()
}

#[test]
fn the_chart_is_published_to_a_registry_and_pulled_back_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let chart = chart_dir();
    let packaged = helm(&[
        "package",
        chart.to_str().expect("UTF-8"),
        dir.path().to_str().expect("UTF-8"),
    ])
    .expect("packages");
    let archive = PathBuf::from(packaged.as_str().expect("the archive's path"));
    assert!(
        archive.ends_with("kamaji-telemetry-0.1.0.tgz"),
        "{archive:?}"
    );

    let registry = Registry::start();
    let remote = format!("oci://{}/charts", registry.host());
    helm(&["push", archive.to_str().expect("UTF-8"), &remote])
        .unwrap_or_else(|error| panic!("push: {error}\n{}", registry.log()));
    let pulled = dir.path().join("pulled");
    std::fs::create_dir(&pulled).expect("mkdir");
    helm(&[
        "pull",
        &format!("{remote}/kamaji-telemetry"),
        "0.1.0",
        pulled.to_str().expect("UTF-8"),
    ])
    .unwrap_or_else(|error| panic!("pull: {error}\n{}", registry.log()));
    let back = std::fs::read(pulled.join("kamaji-telemetry-0.1.0.tgz")).expect("the pulled chart");
    assert_eq!(back, std::fs::read(&archive).expect("the pushed chart"));
}
