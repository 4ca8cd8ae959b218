//! The built default plugin, run by the real wasmtime CLI.
//!
//! `wasmtime run --invoke` calls an export with WAVE-encoded arguments and
//! prints the WAVE-encoded result. That is the component as any host sees
//! it, independent of our own host: if these pass, the plugin is a valid
//! `kamaji:telemetry@0.2.0` component that needs nothing but the contract.
//! Unlike our host, the CLI withholds nothing: the plugin is handed every
//! identifying field, and must still send none of them.
//!
//! Every TCP passed in carries the identifying values in [`IDENTIFYING`]
//! (one with quotes and a backslash, to exercise WAVE escaping), and every
//! output is checked to contain none of them, report included.

use kamaji_telemetry_e2e::{default_plugin, wasmtime_cli};
use serde_json::{Value, json};
use std::process::Command;

/// The cluster UID of Kamaji's documentation example, and its pseudonym
/// computed independently with Python's `uuid` module.
const CLUSTER_UID: &str = "56279633-3131-436b-b8f2-9008a49a2f12";
const INSTALLATION_ID: &str = "f82cf93d-528f-541c-8087-4c2f5fdfae0f";

// Identifying values: each TCP below carries all of them.
const NAME: &str = "k8s-133";
const NAMESPACE: &str = "tenant-acme";
const UID: &str = "2f0e6f7c-1d51-4a8e-9c57-7d3f0b8e9a11";
const LABEL_KEY: &str = "acme.example/customer";
const LABEL_VALUE: &str = "acme-corp";
const ANNOTATION: &str = "say \"hi\" \\ to ops@acme.example";
const OWNER_NAME: &str = "acme-prod-control-plane";
const OWNER_UID: &str = "0b9e3c55-4a8f-4c1e-9f61-3a2d7e6b1c42";
const HOSTNAME: &str = "k8s-133.acme.example.com";
const INGRESS_CLASS: &str = "nginx-acme";
const ADDRESS: &str = "192.0.2.10";
const ENDPOINT: &str = "192.0.2.10:6443";
const DATA_STORE: &str = "postgresql-gold";
const USED_BY: &str = "tenant-acme/k8s-133";

/// What no output may contain.
const IDENTIFYING: [&str; 15] = [
    CLUSTER_UID,
    NAME,
    NAMESPACE,
    UID,
    LABEL_KEY,
    LABEL_VALUE,
    ANNOTATION,
    OWNER_NAME,
    OWNER_UID,
    HOSTNAME,
    INGRESS_CLASS,
    ADDRESS,
    ENDPOINT,
    DATA_STORE,
    USED_BY,
];

// WAVE writers: just what the contract's types need.

/// A WAVE string literal.
fn string(text: &str) -> String {
    let mut literal = String::from('"');
    for c in text.chars() {
        match c {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            c if c.is_control() => literal.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => literal.push(c),
        }
    }
    literal.push('"');
    literal
}

fn option(value: Option<&str>) -> String {
    value.map_or_else(|| "none".into(), |v| format!("some({})", string(v)))
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

fn record(fields: &[(&str, String)]) -> String {
    let fields: Vec<_> = fields
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

fn installation(cluster_uid: &str) -> String {
    record(&[
        ("cluster-uid", string(cluster_uid)),
        ("kamaji-version", string("v0.6.1")),
        ("kubernetes-version", string("v1.27.3-eks-5e0fdde")),
    ])
}

/// The parts of a TCP the tests vary; everything else is identifying.
#[derive(Clone, Copy, Default)]
struct Tcp<'a> {
    desired: Option<&'a str>,
    installed: Option<&'a str>,
    status: Option<&'a str>,
    service_type: Option<&'a str>,
}

impl Tcp<'_> {
    fn wave(self) -> String {
        let pair = |key, value| record(&[("key", string(key)), ("value", string(value))]);
        let owner = record(&[
            (
                "api-version",
                string("controlplane.cluster.x-k8s.io/v1alpha1"),
            ),
            ("kind", string("KamajiControlPlane")),
            ("name", string(OWNER_NAME)),
            ("uid", string(OWNER_UID)),
        ]);
        let ingress = record(&[
            ("hostname", option(Some(HOSTNAME))),
            ("class-name", option(Some(INGRESS_CLASS))),
        ]);
        let gateway = record(&[("hostname", option(Some(HOSTNAME)))]);
        record(&[
            ("name", string(NAME)),
            ("namespace", string(NAMESPACE)),
            ("uid", string(UID)),
            ("labels", list([pair(LABEL_KEY, LABEL_VALUE)])),
            ("annotations", list([pair(LABEL_KEY, ANNOTATION)])),
            ("owner-references", list([owner])),
            ("desired-version", option(self.desired)),
            ("installed-version", option(self.installed)),
            ("status", option(self.status)),
            ("service-type", option(self.service_type)),
            ("ingress", format!("some({ingress})")),
            ("gateway", format!("some({gateway})")),
            ("network-address", option(Some(ADDRESS))),
            ("endpoint", option(Some(ENDPOINT))),
            ("data-store", option(Some(DATA_STORE))),
        ])
    }
}

fn data_store(driver: &str) -> String {
    record(&[
        ("name", string(DATA_STORE)),
        ("driver", string(driver)),
        ("used-by", list([string(USED_BY)])),
        ("used-by-count", "1".into()),
    ])
}

// Running the CLI and reading its output.

/// Invokes one export and returns what wasmtime printed.
fn invoke(call: &str) -> String {
    let output = Command::new(wasmtime_cli())
        .args(["run", "--invoke", call])
        .arg(default_plugin())
        .output()
        .expect("wasmtime runs");
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success(),
        "wasmtime failed on {call}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for value in IDENTIFYING {
        // A leak would be printed WAVE-escaped: as it is (in a report, say),
        // or inside a JSON body, JSON-escaped first.
        let json = serde_json::to_string(value).expect("JSON");
        for form in [value, &json[1..json.len() - 1]] {
            let escaped = string(form);
            let escaped = &escaped[1..escaped.len() - 1];
            assert!(!stdout.contains(escaped), "{value} leaked into {stdout}");
        }
    }
    stdout
}

/// Calls `handle-batch` with the example installation and one event, and
/// returns its one answer.
fn handle(event: &str) -> String {
    one_answer(invoke(&format!(
        "handle-batch({}, [{event}])",
        installation(CLUSTER_UID)
    )))
}

/// The one answer of a printed batch of one: `[answer]`.
fn one_answer(output: String) -> String {
    output
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a list of answers: {output}"))
        .to_owned()
}

/// Reads a WAVE string literal at the start of `input`: its text, and the
/// input after it.
fn read_string(input: &str) -> (String, &str) {
    let mut chars = input
        .strip_prefix('"')
        .expect("a string literal")
        .char_indices();
    let mut text = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return (text, &input[at + 2..]),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => text.push('\n'),
                Some('r') => text.push('\r'),
                Some('t') => text.push('\t'),
                Some('u') => {
                    let hex: String = chars
                        .by_ref()
                        .map(|(_, c)| c)
                        .skip(1)
                        .take_while(|&c| c != '}')
                        .collect();
                    let code = u32::from_str_radix(&hex, 16).expect("hex escape");
                    text.push(char::from_u32(code).expect("a char"));
                }
                Some(escaped) => text.push(escaped),
                None => panic!("unterminated escape in {input}"),
            },
            c => text.push(c),
        }
    }
    panic!("unterminated string in {input}")
}

/// Every string value of `field: "..."` in a WAVE output.
fn strings_of(output: &str, field: &str) -> Vec<String> {
    let marker = format!("{field}: ");
    output
        .match_indices(&format!("{marker}\""))
        .map(|(at, _)| read_string(&output[at + marker.len()..]).0)
        .collect()
}

/// The route and parsed body of a printed `ok(some(payload))`.
fn payload(output: &str) -> (String, Value) {
    let rest = output
        .strip_prefix("ok(some({route: ")
        .unwrap_or_else(|| panic!("no payload: {output}"));
    let (route, rest) = rest.split_once(", body: ").expect("a body");
    let (body, _) = read_string(rest);
    (
        route.to_string(),
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

/// The report's (field, action) pairs of a printed payload.
fn report(output: &str) -> Vec<(String, String)> {
    let actions = output.match_indices("action: ").map(|(at, _)| {
        let action = &output[at + "action: ".len()..];
        action[..action.find(',').unwrap_or(action.len())].to_string()
    });
    strings_of(output, "field")
        .into_iter()
        .zip(actions)
        .collect()
}

// The tests.

#[test]
fn describe_lists_every_field_with_json_examples() {
    let output = invoke("describe()");
    let head = r#"{name: "kamaji-telemetry-default", version: "0.1.0", wire-schema: "kamaji-telemetry/v1", fields: ["#;
    assert!(output.starts_with(head), "{output}");
    let tail = "reads: {cluster-uid, versions, status, exposure, owner-kinds, drivers}, \
                routes: [stats, create, update, delete]}";
    assert!(output.ends_with(tail), "{output}");
    let names: Vec<String> = strings_of(&output, "name")[1..].to_vec();
    assert_eq!(names.len(), 28, "{names:?}");
    for example in strings_of(&output, "example") {
        serde_json::from_str::<Value>(&example).unwrap_or_else(|e| panic!("{e}: {example}"));
    }
    assert!(
        strings_of(&output, "meaning")
            .iter()
            .all(|meaning| !meaning.is_empty())
    );
}

#[test]
fn created_goes_to_create() {
    let tcp = Tcp {
        desired: Some("v1.26.0"),
        service_type: Some("LoadBalancer"),
        ..Tcp::default()
    };
    let output = handle(&format!("created({})", tcp.wave()));
    let (route, body) = payload(&output);
    assert_eq!(route, "create");
    assert_eq!(
        body,
        json!({
            "kamaji_version": "v0.6.1",
            "kubernetes_version": "v1.27.3",
            "tcp_version": "v1.26.0",
            "cluster_api": true,
            "network_profile": "ingress"
        })
    );
    let report = report(&output);
    for (field, action) in [
        ("installation.cluster-uid", "dropped"),
        ("installation.kubernetes-version", "normalised"),
        ("tenant-control-plane.name", "dropped"),
        ("tenant-control-plane.labels", "dropped"),
        ("tenant-control-plane.owner-references", "normalised"),
        ("tenant-control-plane.ingress", "normalised"),
        ("tenant-control-plane.endpoint", "dropped"),
    ] {
        assert!(
            report.contains(&(field.into(), action.into())),
            "{field} {action} in {report:?}"
        );
    }
}

#[test]
fn updated_with_a_version_change_goes_to_update() {
    let previous = Tcp {
        desired: Some("v1.26.0"),
        installed: Some("v1.26.0+k3s1"),
        ..Tcp::default()
    };
    let current = Tcp {
        desired: Some("v1.27.0"),
        status: Some("Upgrading"),
        ..previous
    };
    let update = record(&[("previous", previous.wave()), ("current", current.wave())]);
    let output = handle(&format!("updated({update})"));
    let (route, body) = payload(&output);
    assert_eq!(route, "update");
    assert_eq!(
        body,
        json!({
            "kamaji_version": "v0.6.1",
            "kubernetes_version": "v1.27.3",
            "old_tcp_version": "v1.26.0",
            "new_tcp_version": "v1.27.0"
        })
    );
    let report = report(&output);
    assert!(report.contains(&(
        "tcp-update.previous.installed-version".into(),
        "normalised".into()
    )));
}

#[test]
fn updated_without_a_version_change_sends_nothing() {
    let previous = Tcp {
        desired: Some("v1.27.0"),
        status: Some("Ready"),
        ..Tcp::default()
    };
    let current = Tcp {
        status: Some("NotReady"),
        ..previous
    };
    let update = record(&[("previous", previous.wave()), ("current", current.wave())]);
    assert_eq!(handle(&format!("updated({update})")), "ok(none)");
}

#[test]
fn deleted_goes_to_delete() {
    let tcp = Tcp {
        desired: Some("v1.27.0"),
        status: Some("Ready"),
        ..Tcp::default()
    };
    let (route, body) = payload(&handle(&format!("deleted({})", tcp.wave())));
    assert_eq!(route, "delete");
    assert_eq!(
        body,
        json!({
            "kamaji_version": "v0.6.1",
            "kubernetes_version": "v1.27.3",
            "tcp_version": "v1.27.0",
            "status": "Ready"
        })
    );
}

#[test]
fn heartbeat_goes_to_stats_with_the_pseudonym() {
    let tcps = [Some("Ready"), Some("Sleeping"), None].map(|status| {
        Tcp {
            status,
            ..Tcp::default()
        }
        .wave()
    });
    let fleet = record(&[
        ("tenant-control-planes", list(tcps)),
        (
            "data-stores",
            list(["etcd", "PostgreSQL", "CockroachDB"].map(data_store)),
        ),
    ]);
    let output = handle(&format!("heartbeat({fleet})"));
    let (route, body) = payload(&output);
    assert_eq!(route, "stats");
    assert_eq!(
        body,
        json!({
            "uuid": INSTALLATION_ID,
            "kamaji_version": "v0.6.1",
            "kubernetes_version": "v1.27.3",
            "tenant_control_plane": {"running": 2, "upgrading": 0, "not_ready": 0, "sleeping": 1},
            "datastores": {
                "etcd": {"count": 1, "used_by_count": 1},
                "postgres": {"count": 1, "used_by_count": 1},
                "mysql": {"count": 0, "used_by_count": 0},
                "nats": {"count": 0, "used_by_count": 0}
            }
        })
    );
    let report = report(&output);
    assert!(report.contains(&("installation.cluster-uid".into(), "pseudonymised".into())));
    assert!(report.contains(&("fleet.data-stores[]".into(), "dropped".into())));
}

#[test]
fn heartbeat_with_a_malformed_cluster_uid_is_an_error() {
    let fleet = record(&[
        ("tenant-control-planes", list([])),
        ("data-stores", list([])),
    ]);
    let output = one_answer(invoke(&format!(
        "handle-batch({}, [heartbeat({fleet})])",
        installation("k8s-133-cluster")
    )));
    assert!(
        output.starts_with("err(malformed-input(\"installation.cluster-uid is not a UUID"),
        "{output}"
    );
}
