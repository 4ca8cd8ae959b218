//! The stream: bad JSON and YAML documents reported where they are while
//! the others decode, byte-order marks, separators between JSON and YAML,
//! NUL bytes, and documents handed on as soon as they are complete.

use kamaji_telemetry_core::kube::{DecodeError, DecodeErrorKind, Limits, Position, decode_reader};
use kamaji_telemetry_core::model::Event;

use crate::support::{TCP, assert_same, decode_all, key_values, names, only_event, review};

#[test]
fn bad_json_documents_are_reported_with_positions_and_the_rest_is_decoded() {
    let stream = [
        // 1: good, line 1.
        review("CREATE", TCP, "null"),
        // 2: a colon missing before "List"; its brackets balance.
        r#"{"apiVersion": "v1", "kind" "List", "items": []}"#.to_string(),
        // 3: good.
        review("DELETE", "null", TCP),
        // 4: labels of the wrong type, line 4.
        r#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"x","labels":"oops"}}"#.to_string(),
        // 5: a string missing its closing quote, so its brackets never balance.
        r#"{"apiVersion": "v1", "kind": "List, "items": [}"#.to_string(),
        // 6: good, two documents on one line.
        format!("{TCP} {TCP}"),
    ]
    .join("\n");
    let documents = decode_all(stream.as_bytes());
    let summary: Vec<String> = documents
        .iter()
        .map(|result| match result {
            Ok(decoded) => format!("{}: {:?}", decoded.document, names(&decoded.event)),
            Err(error) => format!("{}: error at {}", error.document, error.position),
        })
        .collect();
    assert_eq!(
        summary,
        [
            r#"1: ["one"]"#,
            "2: error at line 2, column 29",
            r#"3: ["one"]"#,
            "4: error at line 4, column 109",
            "5: error at line 5, column 38",
            r#"6: ["one"]"#,
            r#"7: ["one"]"#,
        ]
    );
    let Err(error) = &documents[1] else {
        unreachable!()
    };
    assert_eq!(
        error.to_string(),
        "document 2 (line 2, column 29): invalid JSON: expected `:`"
    );
    assert!(!error.is_skip());
    let Err(error) = &documents[3] else {
        unreachable!()
    };
    assert!(
        error
            .to_string()
            .contains("invalid type: string \"oops\", expected a map"),
        "{error}"
    );
}

#[test]
fn a_truncated_last_json_document_is_an_error_at_its_end() {
    let stream = format!("{TCP}\n\n{{\"kind\": \"List\",\n \"items\": [");
    let documents = decode_all(stream.as_bytes());
    assert_eq!(documents.len(), 2);
    assert!(documents[0].is_ok());
    let Err(error) = &documents[1] else {
        panic!("{documents:?}")
    };
    assert_eq!(error.document, 2);
    assert_eq!(
        error.position,
        Position {
            line: 4,
            column: 11
        }
    );
    assert!(error.to_string().contains("EOF while parsing"), "{error}");
}

#[test]
fn bad_yaml_documents_are_reported_with_positions_and_the_rest_is_decoded() {
    let stream = "\
# a leading comment and separator are no document
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: first
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: broken
 labels: {}
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: third
  labels: [not, a, map]
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: fourth
spec:
  driver: etcd
---
";
    let documents = decode_all(stream.as_bytes());
    assert_eq!(documents.len(), 4, "{documents:#?}");
    assert_eq!(
        names(&documents[0].as_ref().expect("first").event),
        ["first"]
    );
    let Err(broken) = &documents[1] else {
        panic!("{documents:?}")
    };
    assert_eq!((broken.document, broken.position.line), (2, 12));
    assert!(matches!(broken.cause, DecodeErrorKind::Yaml(_)), "{broken}");
    assert!(!broken.to_string().contains(" at line "), "{broken}");
    let Err(third) = &documents[2] else {
        panic!("{documents:?}")
    };
    // serde-saphyr names no field path, but points at the value: column 11
    // of `  labels: [not, a, map]`.
    assert_eq!(
        (third.document, third.position.line, third.position.column),
        (3, 18, 11)
    );
    assert!(third.to_string().contains("mapping"), "{third}");
    assert_eq!(
        names(&documents[3].as_ref().expect("fourth").event),
        ["fourth"]
    );
}

#[test]
fn streams_without_documents_give_nothing() {
    for empty in ["", "  \n\t", "---\n# nothing\n---\n"] {
        assert_eq!(decode_all(empty.as_bytes()).len(), 0, "{empty:?}");
    }
}

#[test]
fn escaped_and_unicode_strings_decode() {
    let tcp = r#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"t\u00e9st","annotations":{"note":"say \"hi\"\n"}}}"#;
    let Event::Created(tcp) = only_event(tcp.as_bytes()) else {
        panic!("a TCP is created")
    };
    assert_eq!(tcp.name, "tést");
    assert_same(&tcp.annotations, &key_values(&[("note", "say \"hi\"\n")]));
}

const YAML_TCP: &str =
    "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: yaml\n";

fn json_tcp(name: &str) -> String {
    TCP.replace(r#""name":"one""#, &format!(r#""name":"{name}""#))
}

/// The name of each document's TCP, or its error.
fn outcomes(bytes: &[u8]) -> Vec<Result<String, String>> {
    decode_all(bytes)
        .into_iter()
        .map(|document| match document {
            Ok(decoded) => Ok(names(&decoded.event).join(",")),
            Err(error) => Err(error.to_string()),
        })
        .collect()
}

#[test]
fn a_byte_order_mark_is_skipped_where_a_document_starts() {
    let bom = "\u{feff}";
    let yaml = format!("{bom}{YAML_TCP}---\n{bom}{YAML_TCP}");
    assert_eq!(
        outcomes(yaml.as_bytes()),
        [Ok("yaml".into()), Ok("yaml".into())]
    );
    let json = format!("{bom}{}\n{bom}{}", json_tcp("a"), json_tcp("b"));
    assert_eq!(outcomes(json.as_bytes()), [Ok("a".into()), Ok("b".into())]);
}

#[test]
fn a_separator_switches_between_json_and_yaml() {
    let stream = format!(
        "{}\n---\n{YAML_TCP}---\n{}\n{}\n",
        json_tcp("first"),
        json_tcp("third"),
        json_tcp("fourth")
    );
    assert_eq!(
        outcomes(stream.as_bytes()),
        [
            Ok("first".into()),
            Ok("yaml".into()),
            Ok("third".into()),
            Ok("fourth".into())
        ]
    );
    // YAML first, then JSON without a separator: the JSON line ends the YAML.
    let stream = format!("{YAML_TCP}{}\n", json_tcp("after"));
    assert_eq!(
        outcomes(stream.as_bytes()),
        [Ok("yaml".into()), Ok("after".into())]
    );
}

#[test]
fn yaml_directives_and_the_document_end_marker_are_accepted() {
    let stream = format!(
        "%YAML 1.1\n---\n{YAML_TCP}...\n%YAML 1.2\n%TAG !k! tag:kamaji.clastix.io,2024:\n--- !k!tcp\n{YAML_TCP}"
    );
    assert_eq!(
        outcomes(stream.as_bytes()),
        [Ok("yaml".into()), Ok("yaml".into())]
    );
}

#[test]
fn a_bad_first_document_never_swallows_the_next_ones() {
    for bad in ["1e999", "not: [closed", "\"unterminated"] {
        let stream = format!("{bad}\n{}\n---\n{YAML_TCP}", json_tcp("json"));
        let outcome = outcomes(stream.as_bytes());
        assert_eq!(outcome.len(), 3, "{bad}: {outcome:?}");
        assert!(outcome[0].is_err(), "{bad}: {outcome:?}");
        assert_eq!(
            outcome[1..],
            [Ok("json".into()), Ok("yaml".into())],
            "{bad}"
        );
    }
}

#[test]
fn a_nul_byte_ends_the_stream_with_a_reason() {
    let stream = format!("{}\n\0\0\0{}", json_tcp("before"), json_tcp("after"));
    let documents = decode_all(stream.as_bytes());
    assert!(documents[0].is_ok(), "{documents:?}");
    let [_, Err(error)] = documents.as_slice() else {
        panic!("the stream ends at the NUL: {documents:?}")
    };
    assert!(matches!(error.cause, DecodeErrorKind::NotText), "{error}");
    assert_eq!(error.position, Position { line: 2, column: 1 });
    // UTF-16 is the usual culprit: a BOM, then a NUL after every ASCII byte.
    let utf16: Vec<u8> = "\u{feff}kind: List\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let documents = decode_all(&utf16);
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

/// Input that arrives in parts, as from a pipe: a read past what has
/// arrived finds the end of the input, so a decoder that waits for more
/// than one document before handing it on loses it.
struct Arrivals(std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u8>>>);

impl std::io::Read for Arrivals {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let mut arrived = self.0.borrow_mut();
        let count = buffer.len().min(arrived.len());
        for (slot, byte) in buffer.iter_mut().zip(arrived.drain(..count)) {
            *slot = byte;
        }
        Ok(count)
    }
}

#[test]
fn each_document_is_decoded_as_soon_as_it_is_complete() {
    let pipe = std::rc::Rc::default();
    let input = std::io::BufReader::new(Arrivals(std::rc::Rc::clone(&pipe)));
    let mut documents = decode_reader(input, Limits::default());
    let arrive = |text: &str| pipe.borrow_mut().extend(text.as_bytes());
    for name in ["first", "second", "third"] {
        arrive(&format!("{}\n", json_tcp(name)));
        let decoded = documents.next().expect("the document that arrived");
        assert_eq!(names(&decoded.expect("a TCP").event), [name]);
    }
    assert!(documents.next().is_none());
}
