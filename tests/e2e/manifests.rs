//! `kamaji-telemetry manifests`: every document of every variant passes
//! kubernetes-validate's strict schema check (installed by `make setup`), and
//! the RBAC rules are exactly what the agent uses: every call the agent makes
//! to the fake API server is allowed by a rule, and every verb of every rule
//! is used by a call.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::host_command;
use kamaji_telemetry_e2e::agent::{Agent, eventually};
use kamaji_telemetry_e2e::host::run;
use kamaji_telemetry_e2e::kube_api::FakeApi;
use kamaji_telemetry_e2e::receiver::Receiver;
use kamaji_telemetry_e2e::validate_kubernetes;
use serde::Deserialize;
use serde_json::Value;

const SOON: Duration = Duration::from_secs(60);

fn manifests(args: &[&str]) -> String {
    let mut command = host_command();
    command.arg("manifests").args(args);
    let result = run(command);
    assert!(result.success(), "{result:?}");
    result.stdout
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .collect()
}

#[test]
fn every_variant_passes_the_strict_kubernetes_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let variants: [&[&str]; 5] = [
        &[],
        &["--events", "webhook"],
        &["--disable-telemetry"],
        &[
            "--namespace",
            "telemetry",
            "--image",
            "registry.example/kt:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
        &[
            "--events",
            "webhook",
            "--plugin",
            "/plugins/custom.wasm",
            "--disable-telemetry",
        ],
    ];
    for (index, args) in variants.iter().enumerate() {
        let text = manifests(args);
        let path = dir.path().join(format!("variant-{index}.yaml"));
        std::fs::write(&path, &text).expect("write");
        if let Err(report) = validate_kubernetes(&path, None) {
            panic!("{args:?}: {report}\n{text}");
        }
        assert!(documents(&text).len() >= 8, "{args:?}: {text}");
    }
}

#[test]
fn the_variants_say_what_they_were_asked() {
    let find = |text: &str, kind: &str| -> Value {
        documents(text)
            .into_iter()
            .find(|document| document["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in\n{text}"))
    };
    let watch = manifests(&[]);
    let deployment = find(&watch, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"][0],
        "ALL"
    );
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(
        container["args"]
            .as_array()
            .expect("args")
            .contains(&"--events=watch".into())
    );
    assert!(!watch.contains("ValidatingWebhookConfiguration"));
    assert_eq!(
        find(&watch, "ConfigMap")["data"]["telemetry.yaml"],
        "disabled: false\n"
    );

    let off = manifests(&["--disable-telemetry"]);
    assert_eq!(
        find(&off, "ConfigMap")["data"]["telemetry.yaml"],
        "disabled: true\n"
    );

    let webhook = manifests(&[
        "--events",
        "webhook",
        "--namespace",
        "t",
        "--plugin",
        "/p.wasm",
    ]);
    let hook = &find(&webhook, "ValidatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Ignore");
    assert_eq!(hook["sideEffects"], "None");
    assert!(
        hook["timeoutSeconds"]
            .as_u64()
            .is_some_and(|seconds| seconds <= 5)
    );
    assert_eq!(hook["clientConfig"]["service"]["namespace"], "t");
    let args =
        find(&webhook, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    for expected in ["--events=webhook", "--plugin=/p.wasm"] {
        assert!(
            args.as_array().expect("args").contains(&expected.into()),
            "{args}"
        );
    }
}

/// One permission: API group, resource, verb, namespace (empty: any) and
/// name (empty: any).
type Permission = (String, String, String, String, String);

/// The permissions of the ClusterRole (any namespace) and the Role (its own).
fn granted(text: &str) -> Vec<Permission> {
    let mut permissions = Vec::new();
    for document in documents(text) {
        let namespace = match document["kind"].as_str() {
            Some("ClusterRole") => String::new(),
            Some("Role") => document["metadata"]["namespace"]
                .as_str()
                .expect("a namespace")
                .to_owned(),
            _ => continue,
        };
        for rule in document["rules"].as_array().expect("rules") {
            let names: Vec<String> = strings(&rule["resourceNames"]);
            let names = if names.is_empty() {
                vec![String::new()]
            } else {
                names
            };
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        for name in &names {
                            permissions.push((
                                group.clone(),
                                resource.clone(),
                                verb.clone(),
                                namespace.clone(),
                                name.clone(),
                            ));
                        }
                    }
                }
            }
        }
    }
    permissions
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What a call to the API needs: `(group, resource, verb, namespace, name)`.
/// A list or watch by `fieldSelector=metadata.name=…` needs only that name,
/// as the API server authorizes it.
fn needed(method: &str, path: &str, query: &str) -> Option<Permission> {
    let watch = query
        .split('&')
        .any(|pair| pair == "watch=true" || pair == "watch=1");
    let selected = query.split('&').find_map(|pair| {
        pair.strip_prefix("fieldSelector=metadata.name%3D")
            .or_else(|| pair.strip_prefix("fieldSelector=metadata.name="))
    });
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None, // /version: readable by every authenticated client
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] => (*namespace, rest),
        rest => ("", rest),
    };
    let (resource, name) = match rest {
        [resource] => (*resource, selected.unwrap_or_default()),
        [resource, name] => (*resource, *name),
        _ => panic!("an unexpected path {path}"),
    };
    let verb = match (method, rest.len() == 1, watch) {
        ("GET", true, true) => "watch",
        ("GET", true, false) => "list",
        ("GET", false, _) => "get",
        ("POST", true, _) => "create",
        ("PUT", false, _) => "update",
        other => panic!("an unexpected call {other:?} {path}"),
    };
    Some((
        group.into(),
        resource.into(),
        verb.into(),
        namespace.into(),
        name.into(),
    ))
}

fn allows(grant: &Permission, need: &Permission) -> bool {
    let (group, resource, verb, namespace, name) = grant;
    (group, resource, verb) == (&need.0, &need.1, &need.2)
        && (namespace.is_empty() || *namespace == need.3)
        && (name.is_empty() || *name == need.4)
}

#[test]
fn the_rbac_rules_are_exactly_the_calls_the_agent_makes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = FakeApi::start();
    api.create_tcp("tenant-a", "one", "v1.30.2");
    let receiver = Receiver::start();
    let mut command = host_command();
    for name in [
        "KAMAJI_TELEMETRY_CLUSTER_UID",
        "KAMAJI_TELEMETRY_KAMAJI_VERSION",
        "KAMAJI_TELEMETRY_KUBERNETES_VERSION",
    ] {
        command.env_remove(name);
    }
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--endpoint"])
        .arg(receiver.url())
        .arg("--kubeconfig")
        .arg(api.kubeconfig(dir.path()))
        .args(["--lease-duration", "2s", "--heartbeat-interval", "1h"])
        .env("POD_NAMESPACE", "kamaji-system")
        .env("POD_NAME", "kamaji-telemetry-0");
    let agent = Agent::start(command);
    // Every kind of call: the lists and watches, the installation's reads
    // (for the heartbeat), the Lease created and then renewed.
    eventually(SOON, "a heartbeat and a renewed Lease", || {
        let calls = api.calls();
        !receiver.requests().is_empty()
            && calls.iter().any(|call| call.method == "PUT")
            && calls.iter().filter(|call| call.is_watch()).count() >= 2
    });
    drop(agent);

    let grants = granted(&manifests(&[]));
    let needs: BTreeSet<Permission> = api
        .calls()
        .iter()
        .filter_map(|call| needed(&call.method, &call.path, &call.query))
        .collect();
    for need in &needs {
        assert!(
            grants.iter().any(|grant| allows(grant, need)),
            "not granted: {need:?}\ngrants: {grants:#?}"
        );
    }
    for grant in &grants {
        assert!(
            needs.iter().any(|need| allows(grant, need)),
            "granted but never used: {grant:?}\ncalls: {needs:#?}"
        );
    }
}
