//! Helpers shared by the decoder's tests.

use std::fmt::Debug;

use kamaji_telemetry_core::kube::{DecodeError, DecodedDocument, decode_stream};
use kamaji_telemetry_core::model::{Event, KeyValue};

pub fn decode_all(bytes: &[u8]) -> Vec<Result<DecodedDocument, DecodeError>> {
    decode_stream(bytes).collect()
}

/// The one event of a stream that must hold exactly one good document.
pub fn only_event(bytes: &[u8]) -> Event {
    let mut documents = decode_all(bytes);
    assert_eq!(documents.len(), 1, "{documents:#?}");
    match documents.remove(0) {
        Ok(decoded) => decoded.event,
        Err(error) => panic!("{error}"),
    }
}

/// The contract's types have no `PartialEq`; their `Debug` shows every field.
pub fn assert_same<T: Debug>(actual: &T, expected: &T) {
    assert_eq!(format!("{actual:#?}"), format!("{expected:#?}"));
}

pub fn key_values(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// A compact AdmissionReview for a TCP, one line.
pub fn review(operation: &str, object: &str, old_object: &str) -> String {
    format!(
        r#"{{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{{"uid":"uid-{operation}","kind":{{"group":"kamaji.clastix.io","version":"v1alpha1","kind":"TenantControlPlane"}},"operation":"{operation}","object":{object},"oldObject":{old_object}}}}}"#
    )
}

pub const TCP: &str = r#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"one","namespace":"ns"}}"#;

pub fn names(event: &Event) -> Vec<&str> {
    match event {
        Event::Created(tcp) | Event::Deleted(tcp) => vec![tcp.name.as_str()],
        Event::Updated(update) => vec![update.previous.name.as_str(), update.current.name.as_str()],
        Event::Heartbeat(fleet) => fleet
            .tenant_control_planes
            .iter()
            .map(|tcp| tcp.name.as_str())
            .chain(fleet.data_stores.iter().map(|ds| ds.name.as_str()))
            .collect(),
    }
}
