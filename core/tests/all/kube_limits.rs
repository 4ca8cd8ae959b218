//! The decoder's input limits: each one, exceeded, gives its own error naming
//! the bound, and the documents after it are still decoded.

use std::io::{BufReader, Read};
use std::time::{Duration, Instant};

use kamaji_telemetry_core::kube::{
    DecodeError, DecodeErrorKind, DecodedDocument, LimitExceeded, Limits, decode_admission_review,
    decode_admission_review_within, decode_reader, decode_stream, decode_stream_within,
};
use kamaji_telemetry_core::model::Event;

const GOOD: &str = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
 "metadata": {"name": "good"}}"#;

const GOOD_YAML: &str =
    "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: good\n";

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
fn a_yaml_document_over_the_size_limit_is_skipped_unkept() {
    let big = format!(
        "apiVersion: v1\nkind: List\nitems: []\n# {}\n",
        "x".repeat(2_000)
    );
    let stream = format!("{big}---\n{GOOD_YAML}");
    let limits = limits(|l| l.max_document_bytes = 1_000);
    let limit =
        first_fails_second_decodes(decode_stream_within(stream.as_bytes(), limits).collect());
    // Its size is not known: it was not read whole.
    assert_eq!(
        limit,
        LimitExceeded::DocumentSize {
            limit: 1_000,
            size: None
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
    // Within it, nested Lists decode: one document, whose inner List is an
    // item of another kind. Matching the one result, rather than checking
    // every result is fine, fails if the stream gives none.
    let within: Vec<_> = decode_stream(nested_lists(30).as_bytes()).collect();
    assert!(
        matches!(
            within.as_slice(),
            [Ok(DecodedDocument {
                skipped_items: 1,
                ..
            })]
        ),
        "{within:?}"
    );
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

/// Far more than any of these take, even in a debug build on a loaded
/// machine, and far less than the unbounded work they used to cost.
const FAST: Duration = Duration::from_secs(10);

#[test]
fn yaml_aliases_are_refused_whatever_they_would_expand_to() {
    // 100 aliases to one 100 KB string: 10 MB expanded, from 100 KB of input.
    let mut bomb = format!(
        "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: bomb\n  labels:\n    big: &big {}\n",
        "x".repeat(100_000)
    );
    for i in 0..100 {
        bomb.push_str(&format!("    k{i}: *big\n"));
    }
    let stream = format!("{bomb}---\n{GOOD_YAML}");
    let started = Instant::now();
    let limit = first_fails_second_decodes(decode_stream(stream.as_bytes()).collect());
    assert!(started.elapsed() < FAST, "{:?}", started.elapsed());
    assert_eq!(limit, LimitExceeded::YamlAlias);
    assert!(
        limit.to_string().contains("Kubernetes never writes them"),
        "{limit}"
    );
}

#[test]
fn deep_yaml_nesting_stops_at_the_depth_limit_before_the_parser_recurses() {
    let flow = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let block: String = (0..200)
        .map(|depth| format!("{}k{depth}:\n", " ".repeat(depth)))
        .collect();
    for deep in [flow, block] {
        let stream = format!("{deep}---\n{GOOD_YAML}");
        let started = Instant::now();
        let limit = first_fails_second_decodes(decode_stream(stream.as_bytes()).collect());
        assert!(started.elapsed() < FAST, "{:?}", started.elapsed());
        assert_eq!(limit, LimitExceeded::Depth { limit: 64 });
    }
}

/// An endless input that counts what is read of it.
struct Endless {
    line: &'static [u8],
    read: usize,
}

impl Read for Endless {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = buffer.len().min(self.line.len());
        buffer[..count].copy_from_slice(&self.line[..count]);
        self.read += count;
        Ok(count)
    }
}

#[test]
fn an_endless_document_is_reported_at_the_size_limit_not_at_its_end() {
    let limits = limits(|l| l.max_document_bytes = 1 << 20);
    for line in [
        &b"key: value\n"[..],
        b"[[[[[[[[[[",
        b"{\"a\": \"endless string",
    ] {
        let mut input = BufReader::new(Endless { line, read: 0 });
        let first = decode_reader(&mut input, limits).next();
        let Some(Err(DecodeError {
            cause: DecodeErrorKind::Limit(LimitExceeded::DocumentSize { .. }),
            ..
        })) = first
        else {
            panic!("{first:?}")
        };
        // Read up to the limit, and not much further.
        let read = input.get_ref().read;
        assert!(read < 2 << 20, "{read} bytes read");
    }
}

#[test]
fn binary_input_stops_the_stream_at_its_first_nul() {
    let zeros = std::io::repeat(0).take(1 << 30);
    let started = Instant::now();
    let documents: Vec<_> = decode_reader(BufReader::new(zeros), Limits::default()).collect();
    assert!(started.elapsed() < FAST, "{:?}", started.elapsed());
    assert!(
        matches!(
            documents.as_slice(),
            [Err(DecodeError {
                cause: DecodeErrorKind::NotText,
                ..
            })]
        ),
        "{documents:?}"
    );
}
