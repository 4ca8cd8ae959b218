//! Splitting a stream into documents, and finding where each one is.

use std::marker::PhantomData;

use serde::de::IgnoredAny;

use super::DecodedDocument;
use super::documents::{Meaning, TopLevel, interpret};
use super::error::{DecodeError, DecodeErrorKind, Position};
use super::limits::{LimitExceeded, Limits, Tripped, deserialize_within};
use super::objects::KubeObject;

/// The documents of a JSON or YAML stream, decoded one at a time.
pub struct Documents<'a>(Format<'a>);

enum Format<'a> {
    Json(JsonDocuments<'a>),
    Yaml(YamlDocuments<'a>),
}

impl<'a> Documents<'a> {
    pub(super) fn new(bytes: &'a [u8], limits: Limits) -> Self {
        match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
            Some(b'{' | b'[') => Documents(Format::Json(JsonDocuments::new(bytes, limits))),
            _ => Documents(Format::Yaml(YamlDocuments::new(bytes, limits))),
        }
    }
}

impl Iterator for Documents<'_> {
    type Item = Result<DecodedDocument, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Format::Json(documents) => documents.next(),
            Format::Yaml(documents) => documents.next(),
        }
    }
}

/// A document's outcome, or why it has none and where.
type Outcome = Result<Meaning, (Position, DecodeErrorKind)>;

fn finish(document: usize, outcome: Outcome) -> Result<DecodedDocument, DecodeError> {
    match outcome {
        Ok(Meaning {
            event,
            skipped_items,
        }) => Ok(DecodedDocument {
            document,
            event,
            skipped_items,
        }),
        Err((position, cause)) => Err(DecodeError {
            document,
            position,
            cause,
        }),
    }
}

/// Concatenated JSON documents, separated by whitespace or by nothing, as
/// `kubectl get -o json` and `jq` print them.
struct JsonDocuments<'a> {
    bytes: &'a [u8],
    /// Where the next document may start.
    offset: usize,
    document: usize,
    lines: LineCounter<'a>,
    limits: Limits,
}

impl<'a> JsonDocuments<'a> {
    fn new(bytes: &'a [u8], limits: Limits) -> Self {
        JsonDocuments {
            bytes,
            offset: 0,
            document: 0,
            lines: LineCounter::new(bytes),
            limits,
        }
    }

    fn next(&mut self) -> Option<Result<DecodedDocument, DecodeError>> {
        let rest = self.bytes.get(self.offset..)?;
        let start = self.offset + rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let document = self.bytes.get(start..)?;
        self.document += 1;
        // The parser sees one byte past the size bound at most: a document
        // that has not ended by then is too large, and is never read whole.
        let cut = self.limits.max_document_bytes.saturating_add(1);
        let window = document.get(..cut).unwrap_or(document);
        // A fresh deserializer per document: one cannot go on after an error.
        let mut deserializer = serde_json::Deserializer::from_slice(window);
        let tripped = Tripped::default();
        let parsed = deserialize_within(
            PhantomData::<TopLevel>,
            &mut deserializer,
            &self.limits,
            &tripped,
        );
        // Positions are only worked out for errors: for good documents, counting
        // lines would be a second pass over every byte.
        let outcome = match parsed {
            Ok(top) => {
                // A stream begun where the document ended tells that offset.
                let end = deserializer.into_iter::<IgnoredAny>().byte_offset();
                self.offset = start + end;
                interpret(top).map_err(|cause| (self.lines.position(start), cause))
            }
            Err(error) => {
                self.offset = resync(self.bytes, start);
                let (position, cause) = json_error(self.lines.position(start), &error);
                let cut_short = window.len() < document.len() && error.is_eof();
                let limit = tripped
                    .take()
                    .or(cut_short.then_some(LimitExceeded::DocumentSize {
                        limit: self.limits.max_document_bytes,
                        size: None,
                    }));
                Err((position, limit.map_or(cause, DecodeErrorKind::Limit)))
            }
        };
        Some(finish(self.document, outcome))
    }
}

/// Reads the object that is the whole of `body`, within `limits`.
pub(super) fn admission_review_body<'a>(
    body: &'a [u8],
    limits: &Limits,
) -> Result<KubeObject<'a>, (Position, DecodeErrorKind)> {
    const START: Position = Position { line: 1, column: 1 };
    limits
        .check_size(body.len())
        .map_err(|limit| (START, DecodeErrorKind::Limit(limit)))?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let tripped = Tripped::default();
    deserialize_within(
        PhantomData::<KubeObject>,
        &mut deserializer,
        limits,
        &tripped,
    )
    .and_then(|object| deserializer.end().map(|()| object))
    .map_err(|error| {
        let (position, cause) = json_error(START, &error);
        (
            position,
            tripped.take().map_or(cause, DecodeErrorKind::Limit),
        )
    })
}

/// A serde_json error with its position made absolute: serde_json counts from
/// `start`, where the document's slice begins, and says so in its message.
fn json_error(start: Position, error: &serde_json::Error) -> (Position, DecodeErrorKind) {
    let position = match error.line() {
        0 => start,
        1 => Position {
            line: start.line,
            column: start.column + error.column().saturating_sub(1),
        },
        line => Position {
            line: start.line + line - 1,
            column: error.column(),
        },
    };
    let mut message = error.to_string();
    let relative = format!(" at line {} column {}", error.line(), error.column());
    if message.ends_with(&relative) {
        message.truncate(message.len() - relative.len());
    }
    (position, DecodeErrorKind::Json(message))
}

/// Where the next document may start after a malformed one at `start`.
///
/// If the brackets of the broken document balance, it ends where they do (a
/// missing comma, a value of the wrong type). Otherwise (a truncated document,
/// an unterminated string, stray bytes) nothing after the error can be
/// trusted, and the next document is taken to start at the next line that
/// opens with `{` or `[`: every document of `kubectl -o json` does, and so does
/// every line of a one-document-per-line stream.
fn resync(bytes: &[u8], start: usize) -> usize {
    balanced_end(bytes, start).unwrap_or_else(|| next_line_opening(bytes, start))
}

/// The end of the bracketed value at `start`, if its brackets balance before
/// anything shows it broken.
fn balanced_end(bytes: &[u8], start: usize) -> Option<usize> {
    let value = bytes.get(start..)?;
    if !matches!(value.first(), Some(b'{' | b'[')) {
        return None;
    }
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &byte) in value.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                // JSON strings never span lines: this one is unterminated.
                b'\n' => return None,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                // The first byte opened, and the loop ends when depth is back to
                // zero, so this never goes below zero.
                depth -= 1;
                if depth == 0 {
                    return Some(start + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn next_line_opening(bytes: &[u8], start: usize) -> usize {
    bytes
        .get(start..)
        .and_then(|rest| {
            rest.windows(2)
                .position(|pair| pair[0] == b'\n' && matches!(pair[1], b'{' | b'['))
        })
        .map_or(bytes.len(), |newline| start + newline + 1)
}

/// Turns byte offsets into positions. Offsets are asked for in increasing
/// order, so each byte is looked at once however many errors there are.
struct LineCounter<'a> {
    bytes: &'a [u8],
    counted: usize,
    line: usize,
    line_start: usize,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            counted: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn position(&mut self, offset: usize) -> Position {
        if let Some(span) = self.bytes.get(self.counted..offset) {
            self.line += span.iter().filter(|&&byte| byte == b'\n').count();
            if let Some(last) = span.iter().rposition(|&byte| byte == b'\n') {
                self.line_start = self.counted + last + 1;
            }
            self.counted = offset;
        }
        Position {
            line: self.line,
            column: offset.saturating_sub(self.line_start) + 1,
        }
    }
}

/// YAML documents separated by `---` lines, as `kubectl get -o yaml` and
/// manifest files have them.
///
/// The stream is cut at separator lines before parsing, as kubectl does, so
/// that a broken document does not take the rest of the stream with it.
struct YamlDocuments<'a> {
    /// What follows the last separator; `None` once all is read.
    rest: Option<&'a [u8]>,
    /// The line number of `rest`'s first line.
    line: usize,
    document: usize,
    limits: Limits,
}

impl<'a> YamlDocuments<'a> {
    fn new(bytes: &'a [u8], limits: Limits) -> Self {
        YamlDocuments {
            rest: Some(bytes),
            line: 1,
            document: 0,
            limits,
        }
    }

    fn next(&mut self) -> Option<Result<DecodedDocument, DecodeError>> {
        loop {
            let (first_line, chunk) = self.next_chunk()?;
            // Blank lines and comments alone, around a leading or trailing
            // `---`, are no document.
            let Some(content) = first_content_line(chunk) else {
                continue;
            };
            self.document += 1;
            let start = Position {
                line: first_line + content,
                column: 1,
            };
            let outcome = self
                .parse(chunk, first_line, start)
                .and_then(|top| interpret(top).map_err(|cause| (start, cause)));
            return Some(finish(self.document, outcome));
        }
    }

    fn parse(
        &self,
        chunk: &'a [u8],
        first_line: usize,
        start: Position,
    ) -> Result<TopLevel<'a>, (Position, DecodeErrorKind)> {
        self.limits
            .check_size(chunk.len())
            .map_err(|limit| (start, DecodeErrorKind::Limit(limit)))?;
        let deserializer = serde_yaml_ng::Deserializer::from_slice(chunk);
        let tripped = Tripped::default();
        deserialize_within(PhantomData, deserializer, &self.limits, &tripped).map_err(|error| {
            let (position, cause) = yaml_error(chunk, first_line, start, &error);
            (
                position,
                tripped.take().map_or(cause, DecodeErrorKind::Limit),
            )
        })
    }

    /// The text up to the next separator line, and the number of its first line.
    fn next_chunk(&mut self) -> Option<(usize, &'a [u8])> {
        let rest = self.rest.take()?;
        let first_line = self.line;
        let mut length = 0;
        for line in rest.split_inclusive(|&byte| byte == b'\n') {
            self.line += 1;
            if is_separator(line) {
                let (chunk, separator_and_after) = rest.split_at(length);
                self.rest = separator_and_after.get(line.len()..);
                return Some((first_line, chunk));
            }
            length += line.len();
        }
        Some((first_line, rest))
    }
}

/// `---` alone on its line, or followed by a comment: kubectl's rule.
fn is_separator(line: &[u8]) -> bool {
    line.strip_prefix(b"---").is_some_and(|after| {
        let after = after.trim_ascii();
        after.is_empty() || after.starts_with(b"#")
    })
}

/// The 0-based index of the first line that is neither blank nor a comment.
fn first_content_line(chunk: &[u8]) -> Option<usize> {
    chunk.split(|&byte| byte == b'\n').position(|line| {
        let line = line.trim_ascii();
        !line.is_empty() && !line.starts_with(b"#")
    })
}

/// A serde_yaml_ng error with its position made absolute: the document's
/// chunk starts at `first_line`.
fn yaml_error(
    chunk: &[u8],
    first_line: usize,
    start: Position,
    error: &serde_yaml_ng::Error,
) -> (Position, DecodeErrorKind) {
    // At the end of a chunk that does not end with a newline, libyaml puts
    // the error on the line after the last (found by fuzzing): keep it on the
    // chunk's last line, so that a position is always inside the input.
    let lines = chunk.split(|&byte| byte == b'\n').count();
    let position = error.location().map_or(start, |location| Position {
        line: first_line + location.line().clamp(1, lines) - 1,
        column: location.column(),
    });
    // The message carries positions relative to the chunk, once or twice
    // ("... at line 3 column 5, while parsing a block mapping at line 1
    // column 1"): keep what precedes them.
    let mut message = error.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    (position, DecodeErrorKind::Yaml(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_documents_end_at_their_closing_bracket() {
        let bytes = br#"{"a": {"b": "}"}, "c": [1, 2]}{"next": 1}"#;
        assert_eq!(balanced_end(bytes, 0), Some(30));
        assert_eq!(resync(bytes, 0), 30);
    }

    #[test]
    fn escaped_quotes_stay_inside_strings() {
        let bytes = br#"{"a": "say \"}\" twice"} {}"#;
        assert_eq!(balanced_end(bytes, 0), Some(24));
    }

    #[test]
    fn broken_documents_resync_at_the_next_line_opening_a_document() {
        let unterminated = b"{\"a\": \"no end\n  \"b\": 1}\n{\"c\": 2}";
        assert_eq!(balanced_end(unterminated, 0), None);
        assert_eq!(resync(unterminated, 0), 24);
        let truncated = b"{\"a\": {\"b\": 1}\n[1]";
        assert_eq!(resync(truncated, 0), 15);
        let stray = b"}} garbage";
        assert_eq!(resync(stray, 0), stray.len());
    }

    #[test]
    fn line_counter_counts_each_byte_once() {
        let bytes = b"ab\ncd\n\nef";
        let mut lines = LineCounter::new(bytes);
        assert_eq!(lines.position(1), Position { line: 1, column: 2 });
        assert_eq!(lines.position(4), Position { line: 2, column: 2 });
        assert_eq!(lines.position(8), Position { line: 4, column: 2 });
    }

    #[test]
    fn separators_are_three_dashes_alone_or_with_a_comment() {
        assert!(is_separator(b"---\n"));
        assert!(is_separator(b"---\r\n"));
        assert!(is_separator(b"---   # next\n"));
        assert!(is_separator(b"---"));
        assert!(!is_separator(b"----\n"));
        assert!(!is_separator(b"--- kind: List\n"));
        assert!(!is_separator(b"  ---\n"));
    }

    #[test]
    fn yaml_chunks_keep_their_line_numbers() {
        let mut documents = YamlDocuments::new(
            b"---\na: 1\n---\n# only a comment\n---\n\nb: 2\n",
            Limits::default(),
        );
        assert_eq!(documents.next_chunk(), Some((1, &b""[..])));
        assert_eq!(documents.next_chunk(), Some((2, &b"a: 1\n"[..])));
        assert_eq!(
            documents.next_chunk(),
            Some((4, &b"# only a comment\n"[..]))
        );
        assert_eq!(documents.next_chunk(), Some((6, &b"\nb: 2\n"[..])));
        assert_eq!(documents.next_chunk(), None);
        assert_eq!(first_content_line(b"\nb: 2\n"), Some(1));
        assert_eq!(first_content_line(b"# only a comment\n"), None);
    }
}
