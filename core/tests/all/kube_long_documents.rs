//! JSON documents too long to keep whole (a large List) are decoded as they
//! are read: they must mean exactly what they would if kept, fail the same
//! way, and leave the stream ready for the next document. And a decoder that
//! shows only some fields gives exactly the withheld events.

use kamaji_telemetry_core::kube::{
    DecodeError, DecodeErrorKind, DecodedDocument, LimitExceeded, Limits, Position, decode_reader,
    decode_stream,
};
use kamaji_telemetry_core::model::{Event, Fleet, InputFields, TenantControlPlane};

/// Comfortably past the 4 MiB that the decoder keeps whole.
const LONG_LIST_TCPS: usize = 6_000;

const GOOD: &str = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
 "metadata": {"name": "good"}}"#;

/// A TenantControlPlane as the API server prints it, one line, with every
/// kind of field the decoder maps (and one it skips).
fn tcp(index: usize) -> String {
    let status = ["Ready", "Upgrading", "NotReady", "Sleeping"][index % 4];
    format!(
        r#"{{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{{"name":"tenant-{index}","namespace":"ns-{index}","uid":"uid-{index}","labels":{{"team":"team-{index}","tier":"gold"}},"annotations":{{"note":"{pad}"}},"ownerReferences":[{{"apiVersion":"controlplane.cluster.x-k8s.io/v1alpha1","kind":"KamajiControlPlane","name":"owner-{index}","uid":"owner-uid-{index}"}}],"managedFields":[{{"manager":"kubectl"}}]}},"spec":{{"dataStore":"etcd-{index}","kubernetes":{{"version":"v1.30.{minor}"}},"controlPlane":{{"service":{{"serviceType":"LoadBalancer"}},"ingress":{{"hostname":"k8s-{index}.example.com","ingressClassName":"nginx"}}}},"networkProfile":{{"address":"10.0.{minor}.7"}}}},"status":{{"controlPlaneEndpoint":"10.0.{minor}.7:6443","kubernetesResources":{{"version":{{"version":"v1.30.{minor}","status":"{status}"}}}}}}}}"#,
        pad = "x".repeat(400),
        minor = index % 7,
    )
}

fn data_store(index: usize) -> String {
    format!(
        r#"{{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"DataStore","metadata":{{"name":"etcd-{index}"}},"spec":{{"driver":"etcd"}},"status":{{"usedBy":["ns-{index}/tenant-{index}"]}}}}"#
    )
}

/// A `kubectl get tcp,datastore -A -o json` List, pretty enough to have
/// lines, so that error positions are worth checking.
fn list(tcps: usize) -> String {
    let items: Vec<String> = (0..tcps).map(tcp).chain((0..3).map(data_store)).collect();
    format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\",\n\"items\": [\n{}\n],\n\"metadata\": {{\"resourceVersion\": \"\"}}}}",
        items.join(",\n")
    )
}

/// Decodes `input` through a reader, as `preview` and `send` read a file.
fn read(input: &str, limits: Limits) -> Vec<Result<DecodedDocument, DecodeError>> {
    decode_reader(input.as_bytes(), limits).collect()
}

fn heartbeat(document: &DecodedDocument) -> &Fleet {
    match &document.event {
        Event::Heartbeat(fleet) => fleet,
        other => panic!("not a heartbeat: {other:?}"),
    }
}

/// The same TCPs, each decoded as a document of its own (kept whole).
fn one_by_one(tcps: usize) -> Vec<TenantControlPlane> {
    let stream: String = (0..tcps).map(|index| tcp(index) + "\n").collect();
    decode_stream(stream.as_bytes())
        .map(|document| match document.expect("a TCP").event {
            Event::Created(tcp) => tcp,
            other => panic!("not a TCP: {other:?}"),
        })
        .collect()
}

#[test]
fn a_list_too_long_to_keep_means_what_its_items_mean_one_by_one() {
    let long = list(LONG_LIST_TCPS);
    assert!(long.len() > 5 << 20, "{} bytes is not long", long.len());
    let documents = read(&format!("{long}\n{GOOD}"), Limits::default());
    assert_eq!(documents.len(), 2, "{documents:?}");
    let fleet = heartbeat(documents[0].as_ref().expect("the List decodes"));
    assert_eq!(fleet.tenant_control_planes, one_by_one(LONG_LIST_TCPS));
    assert_eq!(fleet.data_stores.len(), 3);
    assert_eq!(fleet.data_stores[2].used_by, ["ns-2/tenant-2"]);
    let next = documents[1]
        .as_ref()
        .expect("the document after it decodes");
    assert!(matches!(&next.event, Event::Created(tcp) if tcp.name == "good"));
}

#[test]
fn a_syntax_error_deep_in_a_long_list_is_placed_and_the_stream_goes_on() {
    let long = list(LONG_LIST_TCPS);
    // Break the last TCP's line: a value where a key belongs.
    let last_line = long
        .lines()
        .position(|line| line.contains("tenant-5999"))
        .unwrap();
    let broken = long.replacen(r#""name":"tenant-5999""#, r#""name":"tenant-5999",7"#, 1);
    let documents = read(&format!("{broken}\n{GOOD}"), Limits::default());
    assert_eq!(documents.len(), 2, "{documents:?}");
    let error = documents[0].as_ref().expect_err("the List is broken");
    assert!(matches!(error.cause, DecodeErrorKind::Json(_)), "{error}");
    assert_eq!(error.position.line, last_line + 1, "{error}");
    let next = documents[1]
        .as_ref()
        .expect("the document after it decodes");
    assert!(matches!(&next.event, Event::Created(tcp) if tcp.name == "good"));
}

#[test]
fn a_long_list_past_the_size_limit_is_refused_and_skipped() {
    let long = list(LONG_LIST_TCPS);
    let limits = Limits {
        max_document_bytes: 5 << 20,
        ..Limits::default()
    };
    let documents = read(&format!("{long}\n{GOOD}"), limits);
    assert_eq!(documents.len(), 2, "{documents:?}");
    let error = documents[0].as_ref().expect_err("the List is too long");
    assert_eq!(
        error.cause.to_string(),
        DecodeErrorKind::Limit(LimitExceeded::DocumentSize {
            limit: 5 << 20,
            size: None
        })
        .to_string()
    );
    assert_eq!(error.position, Position { line: 1, column: 1 });
    assert!(documents[1].is_ok(), "{:?}", documents[1]);
}

#[test]
fn a_long_list_cut_short_is_an_error() {
    let long = list(LONG_LIST_TCPS);
    let documents = read(&long[..long.len() - 200], Limits::default());
    assert_eq!(documents.len(), 1, "{documents:?}");
    let error = documents[0].as_ref().expect_err("the List is truncated");
    assert!(matches!(error.cause, DecodeErrorKind::Json(_)), "{error}");
}

#[test]
fn a_nul_byte_in_a_long_list_stops_the_stream() {
    let long = list(LONG_LIST_TCPS).replacen("tenant-5000", "tenant\u{0}5000", 1);
    let documents = read(&format!("{long}\n{GOOD}"), Limits::default());
    assert_eq!(documents.len(), 1, "{documents:?}");
    let error = documents[0].as_ref().expect_err("the List is not text");
    assert!(matches!(error.cause, DecodeErrorKind::NotText), "{error}");
}

#[test]
fn a_decoder_showing_some_fields_gives_the_withheld_events() {
    let shown = InputFields::VERSIONS | InputFields::STATUS | InputFields::OWNER_KINDS;
    for input in [list(50), list(LONG_LIST_TCPS), tcp(7)] {
        let mut expected: Vec<Event> = decode_stream(input.as_bytes())
            .map(|document| document.expect("decodes").event)
            .collect();
        for event in &mut expected {
            event.withhold(shown);
        }
        let decoded: Vec<Event> = decode_reader(input.as_bytes(), Limits::default())
            .showing(shown)
            .map(|document| document.expect("decodes").event)
            .collect();
        assert_eq!(decoded, expected);
        let names = |event: &Event| match event {
            Event::Heartbeat(fleet) => fleet.tenant_control_planes[0].name.clone(),
            Event::Created(tcp) => tcp.name.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(names(&decoded[0]), "", "names are withheld");
    }
}

#[test]
fn items_that_name_no_kind_are_read_as_their_typed_list_says() {
    let strip = |item: String| item.replacen(r#""kind":"TenantControlPlane","#, "", 1);
    let items: Vec<String> = (0..3).map(|index| strip(tcp(index))).collect();
    // The API server writes the list's kind after its items.
    let typed = format!(
        r#"{{"apiVersion":"kamaji.clastix.io/v1alpha1","items":[{}],"kind":"TenantControlPlaneList"}}"#,
        items.join(",")
    );
    let shown = InputFields::VERSIONS | InputFields::IDENTITY;
    let decoded: Vec<_> = decode_reader(typed.as_bytes(), Limits::default())
        .showing(shown)
        .collect();
    let fleet = heartbeat(decoded[0].as_ref().expect("decodes"));
    let mut expected = one_by_one(3);
    for tcp in &mut expected {
        tcp.withhold(shown);
    }
    assert_eq!(fleet.tenant_control_planes, expected);
    assert!(fleet.data_stores.is_empty());
    assert_eq!(fleet.tenant_control_planes[2].name, "tenant-2");
}

#[test]
fn an_error_after_the_items_of_a_long_list_is_placed() {
    let pretty = list(LONG_LIST_TCPS);
    // As `kubectl get -o json | jq -c` prints it: all on one line.
    let compact = pretty.replace('\n', "");
    for long in [pretty, compact] {
        let broken = long.replace(r#""resourceVersion": """#, r#""resourceVersion": }"#);
        let last_line = broken.lines().count();
        let column = broken.lines().last().unwrap().rfind(": }").unwrap() + 3;
        let documents = read(&broken, Limits::default());
        let error = documents[0].as_ref().expect_err("the List is broken");
        assert!(matches!(error.cause, DecodeErrorKind::Json(_)), "{error}");
        let expected = Position {
            line: last_line,
            column,
        };
        assert_eq!(error.position, expected, "{error}");
    }
}

#[test]
fn a_long_bare_array_is_read_as_a_list() {
    let items: Vec<String> = (0..LONG_LIST_TCPS).map(tcp).collect();
    let array = format!("[\n{}\n]", items.join(",\n"));
    let documents = read(&array, Limits::default());
    let fleet = heartbeat(documents[0].as_ref().expect("the array decodes"));
    assert_eq!(fleet.tenant_control_planes, one_by_one(LONG_LIST_TCPS));
}

#[test]
fn empty_elements_of_a_long_list_are_syntax_errors() {
    let long = list(LONG_LIST_TCPS);
    for (broken, message) in [
        (long.replacen("},\n{", "},,\n{", 1), "expected value"),
        (long.replacen("}\n],", "},\n],", 1), "trailing comma"),
    ] {
        let documents = read(&format!("{broken}\n{GOOD}"), Limits::default());
        let error = documents[0].as_ref().expect_err("the List is broken");
        assert_eq!(error.cause.to_string(), format!("invalid JSON: {message}"));
        assert!(documents[1].is_ok(), "{:?}", documents[1]);
    }
}

#[test]
fn fields_that_are_not_shown_are_not_read_at_all() {
    // Labels of the wrong type make the object an error for a reader that
    // is shown labels, and are skipped unread by one that is not.
    let odd = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
 "metadata": {"name": "odd", "labels": "not a map"}, "spec": {"kubernetes": {"version": "v1.30.2"}}}"#;
    let decode = |shown| {
        decode_reader(odd.as_bytes(), Limits::default())
            .showing(shown)
            .next()
            .expect("one document")
    };
    assert!(decode(InputFields::LABELS).is_err());
    let document = decode(InputFields::VERSIONS).expect("labels are not read");
    let Event::Created(tcp) = document.event else {
        panic!("not a TCP: {:?}", document.event);
    };
    assert_eq!(tcp.desired_version.as_deref(), Some("v1.30.2"));
    assert_eq!((tcp.name.as_str(), tcp.labels.len()), ("", 0));
}
