//! JSON documents: where their brackets balance, found byte by byte without
//! parsing them, and how the framer cuts one out of the stream, or resumes
//! after a broken one.

use std::io::BufRead;

use super::{Ending, Framer, KEEP_AT_MOST, Piece, Position, Stop, Syntax, Unfinished, keep};

impl<R: BufRead> Framer<R> {
    pub(super) fn json_piece(&mut self, start: Position) -> Result<Piece, Stop> {
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

    /// Reads a JSON document's bytes until its brackets balance, keeping
    /// them in `kept` while they fit. Stops before the bytes that would make
    /// it longer than `keep_at_most`, unread.
    pub(super) fn cut_json(
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

    /// After a broken JSON document: skips to the next line that opens with
    /// `{` or `[`, where every document of `kubectl -o json` and of
    /// one-document-per-line streams starts.
    pub(super) fn skip_to_json_line(&mut self) -> Result<(), Stop> {
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
