//! Decoding Kubernetes objects, as `kubectl` and the API server print them,
//! into the contract's events.
//!
//! # Input
//!
//! A stream of one or more documents. If its first non-whitespace byte is `{`
//! or `[` it is JSON: documents concatenated, separated by whitespace or by
//! nothing. Otherwise it is YAML, with documents separated by `---` lines.
//!
//! # What each document gives
//!
//! - An `AdmissionReview` (admission.k8s.io) about a TenantControlPlane
//!   (kamaji.clastix.io): `CREATE` gives [`Event::Created`] of `request.object`;
//!   `UPDATE` gives [`Event::Updated`] from `request.oldObject` to
//!   `request.object`; `DELETE` gives [`Event::Deleted`] of `request.oldObject`
//!   (the API server sends no `object` on DELETE). An admission about another
//!   kind, or a `CONNECT`, is skipped ([`DecodeError::is_skip`]).
//! - A `List` (as `kubectl get tenantcontrolplanes,datastores -A -o json` prints
//!   it), a `TenantControlPlaneList`, a `DataStoreList`, or a bare JSON array of
//!   objects (as `jq .items` prints it): one [`Event::Heartbeat`] over the
//!   TenantControlPlanes and DataStores it holds. Items of other kinds are
//!   skipped and counted in [`DecodedDocument::skipped_items`].
//! - A TenantControlPlane: [`Event::Created`].
//! - A DataStore: a heartbeat of just it, so that `kubectl get datastore -o
//!   yaml` and Kamaji's DataStore manifests can be previewed. Like a list's,
//!   this heartbeat holds exactly what the input does: whether such a partial
//!   fleet is worth sending is the caller's call.
//! - Any other kind is skipped.
//!
//! Fields map onto the contract's records as its WIT documents them. A field
//! the object lacks (manifests have no status, uid or namespace) is `None` or
//! empty, never an error; a field of the wrong type (labels that are a
//! string) makes the document an error, as it does for kubectl.
//!
//! # Errors
//!
//! Each document gives its own result, so a bad one does not stop the others.
//! A [`DecodeError`] names the document's 1-based index and a line and column:
//! those of the syntax error, or where the document starts.
//!
//! YAML is cut at `---` lines before it is parsed, as kubectl does, so a broken
//! YAML document never affects the next one. A JSON document with a syntax
//! error is skipped up to where its brackets balance; if they do not (it is
//! truncated, or a string is unterminated), decoding resumes at the next line
//! that opens with `{` or `[`, where every document of `kubectl -o json` and
//! of one-document-per-line streams starts.
//!
//! A document past one of the [`Limits`] (its size, nesting depth, array
//! length, string length) gives [`DecodeErrorKind::Limit`], naming the bound,
//! and the stream goes on after it in the same way.
//!
//! # Performance
//!
//! JSON is read in one pass into structs that name only the mapped fields:
//! serde skips the rest without building it, and kinds and API versions are
//! compared in place. A list's items become records as they are read, so a
//! large list is never held twice. Line numbers are only counted for errors.
//! Most of the time left goes to the strings that the contract's records own:
//! a 100,000-TCP List of 134 MB decodes in about 0.5 s on one core (release
//! build), where serde_json alone parses it in 0.12 s.

mod documents;
mod error;
mod framing;
mod limits;
mod objects;
mod stream;

pub use documents::Admission;
pub use error::{DecodeError, DecodeErrorKind, Position};
pub use limits::{LimitExceeded, Limits};
pub use stream::Documents;

use crate::plugin::bindings::Event;

/// One document of the stream that gives an event.
#[derive(Debug)]
pub struct DecodedDocument {
    /// The document's 1-based index in the stream.
    pub document: usize,
    pub event: Event,
    /// Items of a list that were neither TenantControlPlanes nor DataStores.
    pub skipped_items: usize,
}

/// Decodes a JSON or YAML stream held in memory, one document at a time,
/// within the default [`Limits`].
pub fn decode_stream(bytes: &[u8]) -> Documents<&[u8]> {
    decode_stream_within(bytes, Limits::default())
}

/// Decodes a JSON or YAML stream held in memory, one document at a time,
/// within `limits`.
pub fn decode_stream_within(bytes: &[u8], limits: Limits) -> Documents<&[u8]> {
    Documents::new(bytes, limits)
}

/// Decodes a JSON or YAML stream as it is read, one document at a time,
/// within `limits`: each document is decoded as soon as its last byte is
/// read, and only one document's bytes are held at a time.
pub fn decode_reader<R: std::io::BufRead>(input: R, limits: Limits) -> Documents<R> {
    Documents::new(input, limits)
}

/// Decodes the body of an admission webhook request: one `AdmissionReview`,
/// in JSON, within the default [`Limits`].
///
/// An `Ok` always carries `request.uid`, which the webhook's answer must echo,
/// even when the request gives no event (then `event` says why).
pub fn decode_admission_review(body: &[u8]) -> Result<Admission, DecodeError> {
    decode_admission_review_within(body, &Limits::default())
}

/// Decodes the body of an admission webhook request within `limits`.
pub fn decode_admission_review_within(
    body: &[u8],
    limits: &Limits,
) -> Result<Admission, DecodeError> {
    let error = |(position, cause)| DecodeError {
        document: 1,
        position,
        cause,
    };
    let start = Position { line: 1, column: 1 };
    let object = stream::admission_review_body(body, limits).map_err(error)?;
    documents::admission_review(object).map_err(|cause| error((start, cause)))
}
