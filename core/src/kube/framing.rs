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

use std::io::{self, BufRead};

use super::error::Position;

mod long_json;

pub(super) use long_json::{LongJson, Moved, WalkError};

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

    fn json_piece(&mut self, start: Position) -> Result<Piece, Stop> {
        let mut kept = Some(Vec::new());
        match self.cut_json(JsonScan::default(), &mut kept, KEEP_AT_MOST)? {
            Ending::Long => {
                // Read again from its start, by the walk.
                self.input.replay(kept.unwrap_or_default());
                self.at = start;
                return Ok(Piece::LongJson { start });
            }
            Ending::Overflow(rest) => self.unfinished = Some(rest),
            Ending::Broken => self.unfinished = Some(Unfinished::Resync),
            Ending::Eof => self.replay_after_truncation(start, &mut kept),
            Ending::Complete => {}
        }
        Ok(match kept {
            Some(bytes) => Piece::Document {
                syntax: Syntax::Json,
                start,
                bytes,
            },
            None => Piece::TooLarge { start },
        })
    }

    /// A YAML document, or `None` for one with nothing but comments, blank
    /// lines, directives and markers.
    fn yaml_piece(&mut self, start: Position) -> Result<Option<Piece>, Stop> {
        let mut kept = Some(vec![b' '; start.column - 1]);
        let scan = YamlScan {
            content: false,
            marker: std::mem::take(&mut self.after_separator),
        };
        let (ending, content) = self.cut_yaml(scan, &mut kept)?;
        if let Ending::Overflow(rest) = ending {
            self.unfinished = Some(rest);
        }
        Ok(match kept {
            None => Some(Piece::TooLarge { start }),
            Some(bytes) => content.then_some(Piece::Document {
                syntax: Syntax::Yaml,
                start: Position { column: 1, ..start },
                bytes,
            }),
        })
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

    /// Reads a JSON document's bytes until its brackets balance, keeping
    /// them in `kept` while they fit. Stops before the bytes that would make
    /// it longer than `keep_at_most`, unread.
    fn cut_json(
        &mut self,
        mut scan: JsonScan,
        kept: &mut Option<Vec<u8>>,
        keep_at_most: usize,
    ) -> Result<Ending, Stop> {
        loop {
            let buffer = self.input.fill_buf().map_err(Stop::Read)?;
            if buffer.is_empty() {
                return Ok(Ending::Eof);
            }
            // Scanned no further than it may be kept: the buffer may hold
            // all the rest of the input.
            let room = keep_at_most.saturating_sub(kept_len(kept));
            let (used, outcome) = scan.scan(&buffer[..buffer.len().min(room.saturating_add(1))]);
            if outcome.is_none() && used > room {
                return Ok(Ending::Long);
            }
            let read = &buffer[..used];
            let crossed = keep(kept, read, self.max_bytes);
            self.at.advance(read);
            self.input.consume(used);
            match outcome {
                Some(JsonEnd::NotText) => return Err(Stop::NotText(self.at)),
                Some(JsonEnd::Balanced) => return Ok(Ending::Complete),
                Some(JsonEnd::LineBreakInString) => return Ok(Ending::Broken),
                None if crossed => return Ok(Ending::Overflow(Unfinished::Json(scan))),
                None => {}
            }
        }
    }

    /// Reads a YAML document's lines until it ends, keeping them in `kept`
    /// while they fit. Also says whether it had any content.
    fn cut_yaml(
        &mut self,
        mut scan: YamlScan,
        kept: &mut Option<Vec<u8>>,
    ) -> Result<(Ending, bool), Stop> {
        loop {
            let buffer = self.input.fill_buf().map_err(Stop::Read)?;
            let Some(&first) = buffer.first() else {
                return Ok((Ending::Eof, scan.content));
            };
            if matches!(first, b'{' | b'[') && self.at.column == 1 {
                // A new top-level value: the document ends before it.
                return Ok((Ending::Complete, scan.content));
            }
            let (line, crossed) = self.read_line(kept)?;
            match scan.line(&line) {
                LineMeaning::Separator if scan.content || scan.marker => {
                    drop_last_line(kept, &line);
                    self.after_separator = true;
                    return Ok((Ending::Complete, scan.content));
                }
                LineMeaning::Separator => scan.marker = true,
                LineMeaning::End => return Ok((Ending::Complete, scan.content)),
                LineMeaning::Inside => {}
            }
            if crossed {
                return Ok((Ending::Overflow(Unfinished::Yaml(scan)), true));
            }
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

    /// After a broken JSON document: skips to the next line that opens with
    /// `{` or `[`, where every document of `kubectl -o json` and of
    /// one-document-per-line streams starts.
    fn skip_to_json_line(&mut self) -> Result<(), Stop> {
        loop {
            let buffer = self.input.fill_buf().map_err(Stop::Read)?;
            match buffer.first() {
                None => return Ok(()),
                Some(b'{' | b'[') if self.at.column == 1 => return Ok(()),
                Some(_) => drop(self.read_line(&mut None)?),
            }
        }
    }

    /// A JSON document cut short by the end of the input: if a line within
    /// it opens with `{` or `[`, the documents from there on are read again,
    /// as a truncated document is usually followed by whole ones.
    fn replay_after_truncation(&mut self, start: Position, kept: &mut Option<Vec<u8>>) {
        let Some(bytes) = kept else { return };
        let Some(newline) = bytes
            .windows(2)
            .position(|pair| pair[0] == b'\n' && matches!(pair[1], b'{' | b'['))
        else {
            return;
        };
        let rest = bytes.split_off(newline + 1);
        self.at = start;
        self.at.advance(bytes);
        self.input.replay(rest);
    }
}

fn kept_len(kept: &Option<Vec<u8>>) -> usize {
    kept.as_ref().map_or(0, Vec::len)
}

/// Takes a separator line that ends a document back out of its bytes.
fn drop_last_line(kept: &mut Option<Vec<u8>>, line: &Line) {
    if let Some(bytes) = kept {
        bytes.truncate(bytes.len().saturating_sub(line.length));
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

/// Where a JSON document's brackets stand.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct JsonScan {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonEnd {
    Balanced,
    LineBreakInString,
    NotText,
}

impl JsonScan {
    /// Scans `bytes` until the document ends; returns how many bytes belong
    /// to it (the last one included) and how it ended, if it did. A NUL byte
    /// is not counted.
    pub fn scan(&mut self, bytes: &[u8]) -> (usize, Option<JsonEnd>) {
        let (used, end) = self.scan_text(bytes);
        // Looked for only in what belongs to the document: the buffer may
        // hold all the rest of the input.
        match memchr::memchr(0, &bytes[..used]) {
            Some(nul) => (nul, Some(JsonEnd::NotText)),
            None => (used, end),
        }
    }

    /// `scan`, with NUL bytes taken for any other.
    fn scan_text(&mut self, bytes: &[u8]) -> (usize, Option<JsonEnd>) {
        let mut at = 0;
        while at < bytes.len() {
            at += self.plain_run(&bytes[at..]);
            let Some(&byte) = bytes.get(at) else { break };
            at += 1;
            if let Some(end) = self.step(byte) {
                return (at, Some(end));
            }
        }
        (bytes.len(), None)
    }

    /// How many of `bytes` are plain string content, which cannot change
    /// where the document stands: most of a Kubernetes object's bytes.
    pub fn plain_run(&self, bytes: &[u8]) -> usize {
        if self.in_string && !self.escaped {
            memchr::memchr3(b'"', b'\\', b'\n', bytes).unwrap_or(bytes.len())
        } else {
            0
        }
    }

    /// Moves past one byte.
    pub fn step(&mut self, byte: u8) -> Option<JsonEnd> {
        if self.in_string {
            match byte {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                b'\n' => return Some(JsonEnd::LineBreakInString),
                _ => {}
            }
            return None;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                // A stray closing bracket at depth 0 ends the document
                // too: the parser will say what is wrong with it.
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Some(JsonEnd::Balanced);
                }
            }
            _ => {}
        }
        None
    }

    /// Scans an element of an array whose elements are `depth` deep, up to
    /// the `,` or `]` that ends it (not included). Returns how many bytes
    /// belong to it, and whether it ended there or at a line break in a
    /// string (included). This is most of the bytes of a long list: one
    /// tight loop, with none of the separate steps of [`Self::step`].
    pub fn scan_element(&mut self, bytes: &[u8], depth: usize) -> (usize, Option<ElementEnd>) {
        let mut at = 0;
        while at < bytes.len() {
            if self.in_string {
                at += self.skip_in_string(&bytes[at..]);
                let Some(&byte) = bytes.get(at) else { break };
                at += 1;
                match byte {
                    b'"' => self.in_string = false,
                    b'\\' => self.escaped = true,
                    _ => return (at, Some(ElementEnd::LineBreakInString)),
                }
                continue;
            }
            match bytes[at] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b',' | b']' if self.depth == depth => return (at, Some(ElementEnd::Separator)),
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            at += 1;
        }
        (bytes.len(), None)
    }

    /// Inside a string: how many bytes come before its next `"`, `\\` or
    /// line break, an escaped byte first included.
    fn skip_in_string(&mut self, bytes: &[u8]) -> usize {
        let escaped = usize::from(std::mem::take(&mut self.escaped)).min(bytes.len());
        let plain = bytes[escaped..]
            .iter()
            .position(|byte| matches!(byte, b'"' | b'\\' | b'\n'))
            .unwrap_or(bytes.len() - escaped);
        escaped + plain
    }

    /// How deeply the next byte is nested.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether the next byte is inside a string.
    pub fn in_string(&self) -> bool {
        self.in_string
    }
}

/// Where [`JsonScan::scan_element`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ElementEnd {
    /// Before the `,` or `]` after the element.
    Separator,
    /// After a line break in a string.
    LineBreakInString,
}

/// `bytes` up to its first NUL byte, and whether there was one.
pub(super) fn before_nul(bytes: &[u8]) -> (&[u8], bool) {
    match memchr::memchr(0, bytes) {
        Some(nul) => (&bytes[..nul], true),
        None => (bytes, false),
    }
}

/// What a YAML document has had so far.
#[derive(Debug, Clone, Copy)]
struct YamlScan {
    /// A line that is not blank, a comment, a directive or a marker.
    content: bool,
    /// Its `---` start marker.
    marker: bool,
}

enum LineMeaning {
    /// The document goes on.
    Inside,
    /// `---`: the start of a document.
    Separator,
    /// `...`: the end of this document.
    End,
}

impl YamlScan {
    fn line(&mut self, line: &Line) -> LineMeaning {
        let head = line.head();
        if is_marker(head, b"---", line.whole()) {
            return LineMeaning::Separator;
        }
        if is_marker(head, b"...", line.whole()) {
            return LineMeaning::End;
        }
        let text = head.trim_ascii_start();
        let prefix = text.is_empty()
            || text.starts_with(b"#")
            || (head.starts_with(b"%") && !self.content && !self.marker);
        self.content |= !prefix;
        LineMeaning::Inside
    }
}

/// `---` or `...` alone on its line, or followed by a comment: kubectl's
/// rule for separators.
fn is_marker(head: &[u8], marker: &[u8], whole: bool) -> bool {
    whole
        && head.strip_prefix(marker).is_some_and(|after| {
            let after = after.trim_ascii();
            after.is_empty() || after.starts_with(b"#")
        })
}

/// The first bytes of a line, and its length.
#[derive(Default)]
struct Line {
    head: Vec<u8>,
    length: usize,
}

impl Line {
    /// Enough to tell a marker with a comment from content.
    const HEAD: usize = 256;

    fn add(&mut self, bytes: &[u8]) {
        let room = Self::HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.length += bytes.len();
    }

    fn head(&self) -> &[u8] {
        &self.head
    }

    /// The head is the whole line.
    fn whole(&self) -> bool {
        self.head.len() == self.length
    }
}

/// A reader that gives back some bytes before going on with its input.
struct Replay<R> {
    replay: Vec<u8>,
    replayed: usize,
    inner: R,
}

impl<R: BufRead> Replay<R> {
    fn new(inner: R) -> Self {
        Replay {
            replay: Vec::new(),
            replayed: 0,
            inner,
        }
    }

    fn replay(&mut self, mut bytes: Vec<u8>) {
        bytes.extend_from_slice(&self.replay[self.replayed..]);
        self.replay = bytes;
        self.replayed = 0;
    }

    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.replayed < self.replay.len() {
            return Ok(&self.replay[self.replayed..]);
        }
        // A signal may interrupt a read: try again, as `read_to_end` does.
        while let Err(error) = self.inner.fill_buf() {
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
        // Filled now: this call only returns the buffer.
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if self.replayed < self.replay.len() {
            self.replayed += amount;
            if self.replayed == self.replay.len() {
                self.replay = Vec::new();
                self.replayed = 0;
            }
        } else {
            self.inner.consume(amount);
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
    fn separators_are_three_dashes_alone_or_with_a_comment() {
        assert!(is_marker(b"---\n", b"---", true));
        assert!(is_marker(b"---\r\n", b"---", true));
        assert!(is_marker(b"---   # next\n", b"---", true));
        assert!(is_marker(b"---", b"---", true));
        assert!(is_marker(b"...\n", b"...", true));
        assert!(!is_marker(b"----\n", b"---", true));
        assert!(!is_marker(b"--- kind: List\n", b"---", true));
        assert!(!is_marker(b"  ---\n", b"---", true));
        assert!(!is_marker(
            b"---   # a comment longer than the head",
            b"---",
            false
        ));
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
