//! The decoder's input limits: each one, exceeded, gives its own error naming
//! the bound, and the documents after it are still decoded.

use kamaji_telemetry::kube::{
    DecodeError, DecodeErrorKind, DecodedDocument, LimitExceeded, Limits, decode_admission_review,
    decode_admission_review_within, decode_stream, decode_stream_within,
};
use kamaji_telemetry::plugin::bindings::Event;

const GOOD: &str = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
 "metadata": {"name": "good"}}"#;

fn tcp_with_label(value: &str) -> String {
    format!(
        r#"{{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
 "metadata": {{"name": "big", "labels": {{"k": "{value}"}}}}}}"#
    )
}

/// A List of `depth` Lists, one inside the other.
fn nested_lists(depth: usize) -> String {
    let open = r#"{"apiVersion": "v1", "kind": "List", "items": ["#;
    format!("{}{}", open.repeat(depth), "]}".repeat(depth))
}

fn list_of(items: usize) -> String {
    let item = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStore"}"#;
    let items = vec![item; items].join(",");
    format!(r#"{{"apiVersion": "v1", "kind": "List", "items": [{items}]}}"#)
}

/// The limit error of the first document, and that the second one, after
/// it, was decoded.
fn first_fails_second_decodes(results: Vec<Result<DecodedDocument, DecodeError>>) -> LimitExceeded {
    assert_eq!(results.len(), 2, "{results:?}");
    let [first, second] = <[_; 2]>::try_from(results).expect("two documents");
    let good = second.expect("the document after the bad one is decoded");
    assert_eq!(good.document, 2);
    assert!(matches!(good.event, Event::Created(ref tcp) if tcp.name == "good"));
    match first.expect_err("the first document is over a limit") {
        DecodeError {
            document: 1,
            cause: DecodeErrorKind::Limit(limit),
            ..
        } => limit,
        other => panic!("not a limit error: {other}"),
    }
}

fn limits(change: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    change(&mut limits);
    limits
}

#[test]
fn a_json_document_over_the_size_limit_is_not_read_past_it() {
    let big = tcp_with_label(&"x".repeat(2_000));
    let stream = format!("{big}\n{GOOD}");
    let limits = limits(|l| l.max_document_bytes = 1_000);
    let limit =
        first_fails_second_decodes(decode_stream_within(stream.as_bytes(), limits).collect());
    assert_eq!(
        limit,
        LimitExceeded::DocumentSize {
            limit: 1_000,
            size: None
        }
    );
    assert_eq!(
        limit.to_string(),
        "the document is larger than the limit of 1000 bytes"
    );
}

#[test]
fn a_yaml_document_over_the_size_limit_names_its_size() {
    let big = format!(
        "apiVersion: v1\nkind: List\nitems: []\n# {}\n",
        "x".repeat(2_000)
    );
    let good = "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: good\n";
    let stream = format!("{big}---\n{good}");
    let limits = limits(|l| l.max_document_bytes = 1_000);
    let limit =
        first_fails_second_decodes(decode_stream_within(stream.as_bytes(), limits).collect());
    assert_eq!(
        limit,
        LimitExceeded::DocumentSize {
            limit: 1_000,
            size: Some(big.len())
        }
    );
}

#[test]
fn a_webhook_body_over_the_size_limit_is_refused_before_parsing() {
    let limits = limits(|l| l.max_document_bytes = 10);
    let error = decode_admission_review_within(b"{\"kind\": \"AdmissionReview\"}", &limits)
        .expect_err("too large");
    assert!(matches!(
        error.cause,
        DecodeErrorKind::Limit(LimitExceeded::DocumentSize {
            limit: 10,
            size: Some(27)
        })
    ));
}

#[test]
fn nesting_past_the_depth_limit_is_an_error_of_its_own() {
    // 40 Lists nest 80 levels deep (an object and its items array each):
    // past the default 64, and below serde_json's own 128.
    let stream = format!("{}\n{GOOD}", nested_lists(40));
    let limit = first_fails_second_decodes(decode_stream(stream.as_bytes()).collect());
    assert_eq!(limit, LimitExceeded::Depth { limit: 64 });
    // Past serde_json's limit too, the error is still ours.
    let stream = format!("{}\n{GOOD}", nested_lists(1_000));
    let limit = first_fails_second_decodes(decode_stream(stream.as_bytes()).collect());
    assert_eq!(limit, LimitExceeded::Depth { limit: 64 });
    // Within it, nested Lists decode.
    assert!(decode_stream(nested_lists(30).as_bytes()).all(|result| result.is_ok()));
}

#[test]
fn deep_nesting_in_fields_that_are_not_read_is_skipped() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let stream = GOOD.replace(r#""metadata""#, &format!(r#""unread": {deep}, "metadata""#));
    let results: Vec<_> = decode_stream(stream.as_bytes()).collect();
    assert!(matches!(results.as_slice(), [Ok(_)]), "{results:?}");
}

#[test]
fn a_list_past_the_item_limit_is_an_error() {
    let stream = format!("{}\n{GOOD}", list_of(4));
    let limits = limits(|l| l.max_items = 3);
    let limit =
        first_fails_second_decodes(decode_stream_within(stream.as_bytes(), limits).collect());
    assert_eq!(limit, LimitExceeded::Items { limit: 3 });
    assert_eq!(
        limit.to_string(),
        "an array has more than the limit of 3 items"
    );
    let at_limit = decode_stream_within(list_of(3).as_bytes(), limits).next();
    assert!(matches!(at_limit, Some(Ok(_))));
}

#[test]
fn a_fleet_of_100k_passes_the_default_limits() {
    let document = list_of(100_000);
    let decoded = decode_stream(document.as_bytes())
        .next()
        .expect("one document");
    match decoded.expect("within the default limits").event {
        Event::Heartbeat(fleet) => assert_eq!(fleet.data_stores.len(), 100_000),
        other => panic!("not a heartbeat: {other:?}"),
    }
}

#[test]
fn a_string_past_the_length_limit_is_an_error_naming_its_length() {
    let stream = format!("{}\n{GOOD}", tcp_with_label(&"x".repeat(101)));
    let limits = limits(|l| l.max_string_bytes = 100);
    let limit =
        first_fails_second_decodes(decode_stream_within(stream.as_bytes(), limits).collect());
    assert_eq!(
        limit,
        LimitExceeded::StringLength {
            limit: 100,
            length: 101
        }
    );
    assert_eq!(
        limit.to_string(),
        "a string of 101 bytes is longer than the limit of 100"
    );
}

#[test]
fn the_default_string_limit_admits_the_largest_annotation_kubernetes_allows() {
    let largest = 256 << 10;
    let fits = tcp_with_label(&"x".repeat(largest));
    assert!(matches!(decode_stream(fits.as_bytes()).next(), Some(Ok(_))));
    let over = format!("{}\n{GOOD}", tcp_with_label(&"x".repeat(largest + 1)));
    let limit = first_fails_second_decodes(decode_stream(over.as_bytes()).collect());
    assert_eq!(
        limit,
        LimitExceeded::StringLength {
            limit: largest,
            length: largest + 1
        }
    );
}

#[test]
fn webhook_bodies_are_held_to_the_same_limits() {
    let review = |label: &str| {
        format!(
            r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
             "request": {{"uid": "u", "operation": "CREATE",
              "kind": {{"group": "kamaji.clastix.io", "kind": "TenantControlPlane"}},
              "object": {}}}}}"#,
            tcp_with_label(label)
        )
    };
    assert!(decode_admission_review(review("ok").as_bytes()).is_ok());
    let limits = limits(|l| l.max_string_bytes = 40);
    let error = decode_admission_review_within(review(&"x".repeat(41)).as_bytes(), &limits)
        .expect_err("a string too long");
    assert!(
        matches!(
            error.cause,
            DecodeErrorKind::Limit(LimitExceeded::StringLength {
                limit: 40,
                length: 41
            })
        ),
        "{error}"
    );
}
