//! Decoding Kubernetes objects, as `kubectl` and the API server print them,
//! into the contract's events.
//!
//! # Input
//!
//! A stream of one or more documents, read as it arrives: each document is
//! cut out of the input ([`decode_reader`] over any `BufRead`, or
//! [`decode_stream`] over bytes in memory), decoded, and handed on before the
//! next one is read. So an endless `kubectl get -w -o json` gives each object
//! at once, and memory is bounded by one document, whatever the stream's size.
//!
//! The format is chosen at each document: one that starts with `{` or `[` is
//! JSON and ends where its brackets balance (documents may follow one another
//! with whitespace or nothing between them); any other is YAML and ends at a
//! `---` or `...` line, or before a line that opens with `{` or `[`. So a
//! `---` line switches cleanly between JSON and YAML, and a JSON document
//! after a YAML scalar is never taken into it. YAML directives (`%YAML`,
//! `%TAG`) before a `---` belong to the document they start. A UTF-8
//! byte-order mark is skipped wherever a document starts (it is not counted in
//! columns). A NUL byte, which no JSON or YAML text holds, ends the stream
//! with [`DecodeErrorKind::NotText`]: the input is binary or UTF-16, and no
//! boundary in it can be trusted (`preview /dev/zero` stops at its first byte).
//!
//! A YAML document in flow style whose first line opens with `{` or `[` is
//! read as JSON: Kubernetes never writes one.
//!
//! # YAML
//!
//! YAML is parsed by serde-saphyr (on the granit parser), which replaced
//! serde_yaml_ng here for three reasons. Its parser streams events to the
//! deserializer and builds no tree, so a document costs its bytes (held once,
//! by the framer) plus what is decoded from it: what serde skips is not built,
//! as for JSON. serde_yaml_ng loaded every event of a document first, about
//! 16 times its size (a 196 MB List peaked at 3.1 GiB). Its budget is checked
//! on those events, before a value reaches the deserializer: nesting depth is
//! refused before the parser recurses (serde_yaml_ng's flow nesting cost
//! quadratic time: 17 s at depth 50,000), and aliases are refused outright
//! ([`LimitExceeded::YamlAlias`]). Kubernetes never writes anchors or aliases,
//! and each alias repeats a whole value: counting expansions against the size
//! limit would still let 250 KB of input cost 256 MiB of work, so they are
//! not worth the risk. It is pure safe Rust, actively maintained, and its
//! errors carry a line and column.
//!
//! So the same [`Limits`] hold for YAML as for JSON, with one difference:
//! YAML's depth bound counts every value, read or skipped, since its parser
//! tracks nesting even to skip; JSON's counts only what is read.
//!
//! # What each document gives
//!
//! - An `AdmissionReview` (admission.k8s.io) about a TenantControlPlane
//!   (kamaji.clastix.io): `CREATE` gives [`Event::Created`] of `request.object`;
//!   `UPDATE` gives [`Event::Updated`] from `request.oldObject` to
//!   `request.object`; `DELETE` gives [`Event::Deleted`] of `request.oldObject`
//!   (the API server sends no `object` on DELETE). An admission about another
//!   kind, or a `CONNECT`, is skipped ([`DecodeError::is_skip`]), and so is
//!   one whose object names a kind other than the TenantControlPlane that
//!   `request.kind` says (its fields would be read as a TCP's).
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
//! string, a name that is a number) makes the document an error, as it does
//! for kubectl.
//!
//! One rule holds for JSON and YAML alike: a field the decoder does not read
//! is not checked. A decoder that shows only some input fields
//! ([`Documents::showing`]) gives events with the others empty, and does not
//! read them at all: their values are skipped unbuilt, so their types are
//! checked in neither syntax, and `{"metadata": {"name": 1}}` is a
//! TenantControlPlane without a name to a decoder not shown names, written
//! as JSON or as YAML. (A `metadata.name` is read when names or data-store
//! names are shown, as an object's kind may come after its metadata; a
//! DataStore's `usedBy` is read for its length, which every plugin is shown.)
//! A field that is read has its type checked in both: a plain YAML `1`,
//! `true` or `yes` is a number or a boolean, not a string, as kubectl reads
//! it, and a key given twice is handed to the reader as serde_json hands it,
//! so it means the same in both syntaxes.
//!
//! # Errors
//!
//! Each document gives its own result, so a bad one does not stop the others.
//! A [`DecodeError`] names the document's 1-based index and a line and column:
//! those of the syntax error, or where the document starts.
//!
//! Documents are cut before they are parsed, so a broken document never
//! affects the next one. A JSON document with a syntax error ends where its
//! brackets balance; if a string in it holds a line break (it is
//! unterminated), decoding resumes at the next line that opens with `{` or
//! `[`, where every document of `kubectl -o json` and of one-document-per-line
//! streams starts; if the input ends first (it is truncated), at the first
//! such line inside it.
//!
//! A document past one of the [`Limits`] (its size, nesting depth, array
//! length, string length) gives [`DecodeErrorKind::Limit`], naming the bound,
//! and the stream goes on after it in the same way. A document past the size
//! limit is reported as soon as it crosses it, and the rest of it is skipped
//! without being kept.
//!
//! # Performance
//!
//! A document's bytes are copied once, out of the input into a buffer of
//! their own, while the framer finds its end and counts its lines. JSON is
//! then read in one pass into structs that name only the mapped fields:
//! serde skips the rest without building it, and kinds and API versions are
//! compared in place. A list's items become records as they are read, so a
//! large list is never held twice.
//!
//! A JSON document longer than 4 MiB (in practice a large List) is not kept
//! whole: each element of its item array is cut out and decoded on its own as
//! it is read, and only the few lines around them are kept (see
//! `framing::long_json`). So a 100,000-TCP List of 100 MB costs what is
//! decoded from it, not its bytes. Such a document cut short is reported, but
//! the documents inside it are not read again (a short one's are).
//!
//! With [`Documents::showing`], what is not shown is never built: a
//! 100,000-TCP List of 100 MB, read for what the default plugin is shown,
//! decoded in about 0.55 s on one core (release build) with a peak of 67 MB.

mod documents;
mod error;
mod framing;
mod limits;
mod objects;
pub mod record;
mod stream;

pub use documents::Admission;
pub use error::{DecodeError, DecodeErrorKind, Position};
pub use limits::{LimitExceeded, Limits};
pub use stream::Documents;

use crate::model::Event;

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
