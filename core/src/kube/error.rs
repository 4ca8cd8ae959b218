//! Why a document of the stream gives no event, and where it is.

use std::fmt;

/// A place in the input: 1-based line and column (the column counts bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A document of the stream that gives no event.
///
/// The position is that of the syntax error where there is one, and otherwise
/// where the document starts.
#[derive(Debug, thiserror::Error)]
#[error("document {document} ({position}): {cause}")]
pub struct DecodeError {
    /// The document's 1-based index in the stream.
    pub document: usize,
    pub position: Position,
    pub cause: DecodeErrorKind,
}

impl DecodeError {
    /// True when the document is well-formed but has nothing to report (see
    /// [`DecodeErrorKind::is_skip`]).
    pub fn is_skip(&self) -> bool {
        self.cause.is_skip()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeErrorKind {
    /// Not JSON, or JSON of the wrong shape (a string where an object belongs).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Not YAML, or YAML of the wrong shape.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A field that the document's kind cannot do without.
    #[error("{0} is missing")]
    MissingField(&'static str),
    #[error(
        "kind {kind:?} of apiVersion {api_version:?} is not a TenantControlPlane, a DataStore, \
         a list of them or an AdmissionReview"
    )]
    UnsupportedKind { api_version: String, kind: String },
    #[error("not a TenantControlPlane admission: the request is about {kind:?} in group {group:?}")]
    NotTenantControlPlaneAdmission { group: String, kind: String },
    #[error("not a TenantControlPlane lifecycle admission: operation {0:?}")]
    UnsupportedOperation(String),
    /// The request's object is of another kind than the request says.
    #[error(
        "{field} is kind {kind:?} of apiVersion {api_version:?}, not the TenantControlPlane \
         that request.kind names"
    )]
    AdmissionObjectKind {
        field: &'static str,
        api_version: String,
        kind: String,
    },
    /// The document goes past one of the decoder's [`Limits`](super::Limits).
    #[error("{0}")]
    Limit(#[from] super::LimitExceeded),
    /// A NUL byte, which no JSON or YAML text holds. The stream ends here:
    /// nothing after it can be trusted to start a document.
    #[error(
        "a NUL byte: the input is not UTF-8 text (binary, or UTF-16?); the rest of it is not read"
    )]
    NotText,
    /// The input could not be read. The stream ends here.
    #[error("cannot read the input: {0}")]
    Read(#[source] std::io::Error),
}

impl DecodeErrorKind {
    /// True for a well-formed document that has nothing to report: another
    /// kind of object, an admission of another kind (by its `request.kind`
    /// or by its object's own), or a `CONNECT`. A caller
    /// logs these quietly; the other causes are errors in the input.
    pub fn is_skip(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedKind { .. }
                | Self::NotTenantControlPlaneAdmission { .. }
                | Self::AdmissionObjectKind { .. }
                | Self::UnsupportedOperation(_)
        )
    }
}
