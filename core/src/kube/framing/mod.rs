//! Cutting a stream into documents as it is read: one document's bytes at a
//! time, so that memory is bounded by the size limit of one document however
//! long the stream, and a document is handed on as soon as its last byte is
//! read (an endless `kubectl get -w -o json` gives each object at once).
//!
//! A document that starts with `{` or `[` is JSON and ends where its brackets
//! balance. Any other document is YAML and ends at a `---` or `...` line, or
//! before a line that opens with `{` or `[`: at column 0 those only start a
//! new top-level value, so a JSON document after a YAML one, or after a bad
//! scalar such as `1e999`, is never swallowed by it. The format is chosen
//! again at each document, so a stream may mix both.
//!
//! A UTF-8 byte-order mark is skipped wherever a document may start, as YAML
//! allows. A NUL byte, which neither JSON nor YAML text may hold, stops the
//! stream: the input is binary or UTF-16, and no boundary in it can be trusted.
//!
//! The [`Framer`] here chooses the syntax and keeps the bytes; `json_scan`
//! and `yaml_scan` tell where a document of their syntax ends, `long_json`
//! reads a JSON document too long to keep one item at a time, and `replay`
//! gives bytes already read back to the input.

use std::io::{self, BufRead};

use super::error::Position;

mod json_scan;
mod long_json;
mod replay;
mod yaml_scan;

use json_scan::{ElementEnd, JsonEnd, JsonScan, before_nul};
pub(super) use long_json::{LongJson, Moved, WalkError};
use replay::Replay;
use yaml_scan::{Line, YamlScan};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    Json,
    Yaml,
}

/// One document cut from the stream.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// A document's bytes. For YAML, the first line is padded with spaces to
    /// its column, so that the parser's columns and indentation are the input's.
    Document {
        syntax: Syntax,
        start: Position,
        bytes: Vec<u8>,
    },
    /// A document that went past the size limit. Its bytes are not kept; the
    /// rest of it is skipped by the next call, after this one is reported.
    TooLarge { start: Position },
    /// A JSON document longer than [`KEEP_AT_MOST`], unread: it is read
    /// with [`Framer::walk_long_json`], one item of its list at a time.
    LongJson { start: Position },
}

/// The most bytes of one JSON document that are kept whole: a longer one (a
/// large List) is decoded as it is read, so that it costs what is decoded
/// from it rather than its bytes. 4 MiB holds any single Kubernetes object.
const KEEP_AT_MOST: usize = 4 << 20;

/// Why the stream ends early.
#[derive(Debug)]
pub(super) enum Stop {
    /// A NUL byte, here.
    NotText(Position),
    Read(io::Error),
}

/// What is left of the previous document when the next one is asked for.
#[derive(Debug, Clone, Copy)]
enum Unfinished {
    /// A document past the size limit, to be read to its end and dropped.
    Json(JsonScan),
    Yaml(YamlScan),
    /// A JSON document broken by a line break inside a string: nothing up to
    /// the next line that opens a document can be trusted.
    Resync,
}

/// Cuts documents out of `input`, one at a time.
pub(super) struct Framer<R> {
    input: Replay<R>,
    /// Where the next unread byte is.
    at: Position,
    max_bytes: usize,
    unfinished: Option<Unfinished>,
    /// The last YAML document ended at a `---` line, so the next one has had
    /// its start marker.
    after_separator: bool,
    stopped: bool,
}

/// How a document's cut ended.
enum Ending {
    /// Its last byte was read.
    Complete,
    /// A JSON string held a line break, which JSON does not allow.
    Broken,
    /// The input ended first.
    Eof,
    /// It has just gone past the size limit; what is left of it is this.
    Overflow(Unfinished),
    /// It is longer than it may be kept.
    Long,
}

impl<R: BufRead> Framer<R> {
    pub fn new(input: R, max_bytes: usize) -> Self {
        Framer {
            input: Replay::new(input),
            at: Position { line: 1, column: 1 },
            max_bytes,
            unfinished: None,
            after_separator: false,
            stopped: false,
        }
    }

    /// Where the next unread byte is.
    pub fn position(&self) -> Position {
        self.at
    }

    /// The next document, `None` at the end of the input, or why the stream stops.
    pub fn next_piece(&mut self) -> Option<Result<Piece, Stop>> {
        if self.stopped {
            return None;
        }
        let piece = self.finish_unfinished().and_then(|()| self.cut_next());
        match piece {
            Ok(piece) => piece.map(Ok),
            Err(stop) => {
                self.stopped = true;
                Some(Err(stop))
            }
        }
    }

    fn finish_unfinished(&mut self) -> Result<(), Stop> {
        match self.unfinished.take() {
            None => Ok(()),
            Some(Unfinished::Resync) => self.skip_to_json_line(),
            Some(Unfinished::Json(scan)) => match self.cut_json(scan, &mut None, usize::MAX)? {
                Ending::Broken => self.skip_to_json_line(),
                _ => Ok(()),
            },
            Some(Unfinished::Yaml(scan)) => self.cut_yaml(scan, &mut None).map(drop),
        }
    }

    fn cut_next(&mut self) -> Result<Option<Piece>, Stop> {
        loop {
            let Some(first) = self.skip_blanks()? else {
                return Ok(None);
            };
            let start = self.at;
            if matches!(first, b'{' | b'[') {
                self.after_separator = false;
                return self.json_piece(start).map(Some);
            }
            if let Some(piece) = self.yaml_piece(start)? {
                return Ok(Some(piece));
            }
        }
    }

    /// Skips whitespace and byte-order marks; returns the next byte, unread.
    fn skip_blanks(&mut self) -> Result<Option<u8>, Stop> {
        loop {
            let buffer = self.input.fill_buf().map_err(Stop::Read)?;
            if buffer.starts_with(BOM) {
                // Not counted in the column: it is not a character of the line.
                self.input.consume(BOM.len());
                continue;
            }
            let Some(&first) = buffer.first() else {
                return Ok(None);
            };
            let blanks = buffer
                .iter()
                .position(|byte| !byte.is_ascii_whitespace())
                .unwrap_or(buffer.len());
            if blanks == 0 {
                return Ok(Some(first));
            }
            self.at.advance(&buffer[..blanks]);
            self.input.consume(blanks);
        }
    }

    /// Reads one line, through its line break, keeping it in `kept` while it
    /// fits. Returns its first bytes, enough to tell what kind of line it is.
    fn read_line(&mut self, kept: &mut Option<Vec<u8>>) -> Result<(Line, bool), Stop> {
        let mut line = Line::default();
        let mut crossed = false;
        loop {
            let buffer = self.input.fill_buf().map_err(Stop::Read)?;
            if buffer.is_empty() {
                return Ok((line, crossed));
            }
            let stop = memchr::memchr2(b'\n', 0, buffer);
            let used = stop.map_or(buffer.len(), |at| at + 1);
            if stop.is_some_and(|at| buffer[at] == 0) {
                self.at.advance(&buffer[..used - 1]);
                return Err(Stop::NotText(self.at));
            }
            let read = &buffer[..used];
            line.add(read);
            crossed |= keep(kept, read, self.max_bytes);
            self.at.advance(read);
            self.input.consume(used);
            if stop.is_some() {
                return Ok((line, crossed));
            }
        }
    }
}

/// Appends `read` to `kept` if it still fits in `max`; otherwise drops what
/// was kept. Returns true when the document has just gone past `max`.
fn keep(kept: &mut Option<Vec<u8>>, read: &[u8], max: usize) -> bool {
    let Some(bytes) = kept else {
        return false;
    };
    if bytes.len() + read.len() > max {
        *kept = None;
        return true;
    }
    bytes.extend_from_slice(read);
    false
}

impl Position {
    /// Moves past `bytes`.
    fn advance(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', bytes).count();
                self.column = bytes.len() - last;
            }
            None => self.column += bytes.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(input: &[u8], max_bytes: usize) -> Vec<Piece> {
        let mut framer = Framer::new(input, max_bytes);
        std::iter::from_fn(|| framer.next_piece())
            .map(|piece| piece.expect("no stop"))
            .collect()
    }

    fn document(syntax: Syntax, line: usize, column: usize, bytes: &[u8]) -> Piece {
        Piece::Document {
            syntax,
            start: Position { line, column },
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn json_documents_end_where_their_brackets_balance() {
        let first = br#"{"a": "say \"}\" twice", "b": [1, {"c": "]"}]}"#;
        let input = [&first[..], br#"{"next": 1}"#].concat();
        assert_eq!(
            pieces(&input, 1 << 20),
            [
                document(Syntax::Json, 1, 1, first),
                document(Syntax::Json, 1, first.len() + 1, br#"{"next": 1}"#),
            ]
        );
    }

    #[test]
    fn broken_json_documents_give_back_the_lines_that_open_documents() {
        let truncated = b"{\"a\": {\"b\": 1}\n[1]";
        assert_eq!(
            pieces(truncated, 1 << 20),
            [
                document(Syntax::Json, 1, 1, b"{\"a\": {\"b\": 1}\n"),
                document(Syntax::Json, 2, 1, b"[1]"),
            ]
        );
        let unterminated = b"{\"a\": \"no end\n  \"b\": 1}\n{\"c\": 2}";
        assert_eq!(
            pieces(unterminated, 1 << 20),
            [
                document(Syntax::Json, 1, 1, b"{\"a\": \"no end\n"),
                document(Syntax::Json, 3, 1, b"{\"c\": 2}"),
            ]
        );
    }

    #[test]
    fn yaml_documents_keep_their_lines_and_indentation() {
        let input = b"---\na: 1\n---\n# only a comment\n---\n\nb: 2\n";
        assert_eq!(
            pieces(input, 1 << 20),
            [
                document(Syntax::Yaml, 1, 1, b"---\na: 1\n"),
                document(Syntax::Yaml, 7, 1, b"b: 2\n"),
            ]
        );
        assert_eq!(
            pieces(b"\n  a: 1\n  b: 2\n", 1 << 20),
            [document(Syntax::Yaml, 2, 1, b"  a: 1\n  b: 2\n")]
        );
    }

    #[test]
    fn a_document_past_the_limit_is_reported_then_skipped_unkept() {
        let input = b"{\"a\": \"0123456789\"}\n{}";
        let start = Position { line: 1, column: 1 };
        assert_eq!(
            pieces(input, 10),
            [
                Piece::TooLarge { start },
                document(Syntax::Json, 2, 1, b"{}")
            ]
        );
        let input = b"a: 0123456789\nb: 1\n---\nc: 2\n";
        assert_eq!(
            pieces(input, 10),
            [
                Piece::TooLarge { start },
                document(Syntax::Yaml, 4, 1, b"c: 2\n")
            ]
        );
    }

    #[test]
    fn positions_count_lines_and_byte_columns() {
        let mut at = Position { line: 1, column: 1 };
        at.advance(b"ab");
        assert_eq!(at, Position { line: 1, column: 3 });
        at.advance(b"c\nde\n\nf");
        assert_eq!(at, Position { line: 4, column: 2 });
    }
}
