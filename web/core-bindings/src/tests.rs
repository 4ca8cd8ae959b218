use super::*;

const INSTALLATION: &str =
    r#"{"clusterUid":"6f1c2a9e-3b7d","kamajiVersion":"v1.0.0","kubernetesVersion":"v1.30.2"}"#;

fn description(contract: &str) -> String {
    let mut description = json!({
        "name": "test",
        "version": "1.0.0",
        "wireSchema": "test/v1",
        "fields": [{"name": "tcp_version", "route": "create", "meaning": "the version", "example": "\"v1.30.2\""}],
    });
    if contract == "0.2.0" {
        description["reads"] = json!({"versions": true, "status": false});
        description["routes"] = json!(["create"]);
    }
    description.to_string()
}

const CREATE: &[u8] = br#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"acme-prod","namespace":"tenants"},"spec":{"kubernetes":{"version":"v1.30.2"}}}"#;

#[test]
fn a_plugin_of_0_2_0_is_shown_only_what_it_declares() {
    let session = Session::open("0.2.0", &description("0.2.0"), INSTALLATION).unwrap();
    let shown = description_read(&session);
    assert_eq!(shown, ["versions"]);
    let steps = session.decode(CREATE);
    let batch = &steps[0];
    assert_eq!(batch["step"], "batch");
    assert_eq!(batch["installation"]["clusterUid"], "");
    assert_eq!(batch["events"][0]["tag"], "created");
    assert_eq!(batch["events"][0]["val"]["name"], "");
    assert_eq!(batch["events"][0]["val"]["desiredVersion"], "v1.30.2");
}

#[test]
fn a_plugin_of_0_1_0_is_shown_everything() {
    let session = Session::open("0.1.0", &description("0.1.0"), INSTALLATION).unwrap();
    let steps = session.decode(CREATE);
    assert_eq!(steps[0]["events"][0]["val"]["name"], "acme-prod");
    assert_eq!(steps[0]["installation"]["clusterUid"], "6f1c2a9e-3b7d");
}

#[test]
fn payloads_print_as_the_cli_prints_them_and_leaks_are_blocked() {
    let session = Session::open("0.1.0", &description("0.1.0"), INSTALLATION).unwrap();
    session.decode(CREATE);
    let answers = json!([
        {"tag": "ok", "val": {"route": "create", "body": "{\"tcp_version\": \"v1.30.2\"}", "redactions": []}},
    ]);
    let outcomes = session.guard(0, &answers.to_string()).unwrap();
    assert_eq!(outcomes[0]["outcome"], "ready");
    assert_eq!(
        outcomes[0]["line"],
        r#"{"route":"create","body":{"tcp_version": "v1.30.2"},"redactions":[]}"#
    );
    let leak = json!([
        {"tag": "ok", "val": {"route": "create", "body": "{\"name\": \"acme-prod\"}", "redactions": []}},
    ]);
    let outcomes = session.guard(0, &leak.to_string()).unwrap();
    assert_eq!(outcomes[0]["outcome"], "blocked");
    assert_eq!(outcomes[0]["document"], 1);
}

#[test]
fn bad_documents_are_worded_as_the_cli_words_them() {
    let session = Session::open("0.1.0", &description("0.1.0"), INSTALLATION).unwrap();
    let steps = session.decode(b"{\"kind\": \n");
    assert_eq!(steps[0]["step"], "error");
    assert_eq!(steps[0]["document"], 1);
    assert!(
        steps[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("document 1 (line ")
    );
    assert_eq!(
        session.decode(b"")[0]["message"],
        "no Kubernetes document in it"
    );
}

#[test]
fn refusals_and_failures_are_named() {
    let session = Session::open("0.2.0", &description("0.2.0"), INSTALLATION).unwrap();
    session.decode(CREATE);
    let answers = json!([{"tag": "err", "val": {"tag": "unsupported-event", "val": "no"}}]);
    let outcomes = session.guard(0, &answers.to_string()).unwrap();
    assert_eq!(
        outcomes[0]["message"],
        "the plugin refused the event: unsupported event: no"
    );
    assert!(session.guard(7, "[]").is_err());
}

fn description_read(session: &Session) -> Vec<String> {
    session.description()["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|input| input["read"] == true)
        .map(|input| input["name"].as_str().unwrap().to_owned())
        .collect()
}
