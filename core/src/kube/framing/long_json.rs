//! JSON documents too long to keep whole: in practice, the List of a large
//! fleet (100,000 TCPs are about 100 MB).
//!
//! Such a document is read once, as it arrives, and split in two. Each element
//! of its item array (the top-level `items` of an object, or the elements of a
//! top-level array) is cut out on its own and handed to the caller, who
//! decodes it at once and keeps only what it needs. The rest, the document
//! with an empty item array, is a few lines: it is kept, decoded as any
//! document, and given the items back. So memory is bounded by one item,
//! whatever the size of the list, and every piece is parsed from a slice, as
//! fast as a kept document.
//!
//! Positions are the input's: an item is decoded from where it starts, and a
//! position in the rest past where the items were is moved back to where it
//! is in the input ([`Moved`]).

use std::io::BufRead;

use super::{ElementEnd, Framer, JsonEnd, JsonScan, Position, Stop, Unfinished, before_nul};

/// How much of the input is walked at a time.
const CHUNK: usize = 64 << 10;

/// Keys are compared with `items` while they are at most this long.
const KEY_BYTES: usize = 16;

/// What the walk of a long JSON document leaves to decode: the document with
/// an empty item array where its items were (or unchanged, if it has none).
pub(in crate::kube) struct LongJson {
    pub rest: Vec<u8>,
    /// Where the rest's positions past its item array are in the input.
    pub moved: Option<Moved>,
}

/// Where the items were taken out of the rest: what is at `from` in the rest
/// (the item array's `]`, or its end) is at `to` in the input.
#[derive(Debug, Clone, Copy)]
pub(in crate::kube) struct Moved {
    from: Position,
    to: Position,
}

impl Moved {
    /// Where a position in the rest is in the input.
    pub fn place(&self, at: Position) -> Position {
        let (from, to) = (self.from, self.to);
        if (at.line, at.column) < (from.line, from.column) {
            at
        } else if at.line == from.line {
            Position {
                line: to.line,
                column: to.column + (at.column - from.column),
            }
        } else {
            Position {
                line: to.line + (at.line - from.line),
                column: at.column,
            }
        }
    }
}

/// Why a long JSON document has no meaning.
#[derive(Debug)]
pub(in crate::kube) enum WalkError<E> {
    /// An item did not decode; it says why and where.
    Item(E),
    /// Nothing between two commas, or a comma before the closing bracket.
    Syntax {
        position: Position,
        message: &'static str,
    },
    /// More items than the limit.
    TooManyItems,
    /// Past the size limit; the rest is skipped, unread, at the next document.
    TooLarge,
    /// The stream cannot go on.
    Stopped(Stop),
}

/// Follows the keys of the top-level object, to find `items`.
#[derive(Default)]
struct Keys {
    state: KeyState,
    key: Vec<u8>,
}

#[derive(Default, PartialEq, Eq)]
enum KeyState {
    /// Before the document, or inside a value.
    #[default]
    Other,
    /// After `{` or `,`: the next string is a key.
    ExpectKey,
    InKey,
    /// After a key, before its `:`.
    AfterKey,
    /// After the `:` of a key.
    ExpectValue,
}

/// The item array, while the walk is in it.
struct ItemArray {
    /// How deeply its elements are nested.
    depth: usize,
    /// Where its `[` ends; known once the framer has moved there.
    opened: Option<Position>,
    /// The current element's bytes, from just after the last separator.
    element: Vec<u8>,
    /// Where they start; known once the framer has moved there.
    element_start: Option<Position>,
    /// The last separator was a comma.
    after_comma: bool,
    count: usize,
}

/// A walk in progress.
struct Walk<'f, R, E, F> {
    framer: &'f mut Framer<R>,
    scan: JsonScan,
    /// Bytes of the document read so far.
    size: usize,
    rest: Vec<u8>,
    /// Where the document, and so the rest, starts.
    start: Position,
    moved: Option<Moved>,
    keys: Keys,
    items: Option<ItemArray>,
    max_items: usize,
    on_item: F,
    /// The first error: no item is handed over after it, but the document
    /// is read to its end, as any broken document is.
    failure: Option<WalkError<E>>,
}

/// How a walk ended.
enum WalkEnd {
    /// The brackets balanced.
    Balanced,
    /// A string held a line break: what was read is decoded, and fails.
    Broken,
    /// The input ended first.
    Eof,
}

impl<R: BufRead> Framer<R> {
    /// Reads the [`Piece::LongJson`](super::Piece::LongJson) just returned,
    /// handing each element of its item array to `on_item` with where it
    /// starts and how deep it is, and returns the rest to decode. After an
    /// error of `on_item`, no other item is handed over.
    pub fn walk_long_json<E>(
        &mut self,
        max_items: usize,
        on_item: impl FnMut(Position, &[u8], usize) -> Result<(), E>,
    ) -> Result<LongJson, WalkError<E>> {
        let start = self.at;
        let mut walk = Walk {
            framer: self,
            scan: JsonScan::default(),
            size: 0,
            rest: Vec::new(),
            start,
            moved: None,
            keys: Keys::default(),
            items: None,
            max_items,
            on_item,
            failure: None,
        };
        let walked = walk.run();
        let (scan, failure, rest, moved) = (walk.scan, walk.failure, walk.rest, walk.moved);
        match &walked {
            Ok(WalkEnd::Broken) => self.unfinished = Some(Unfinished::Resync),
            Ok(WalkEnd::Balanced | WalkEnd::Eof) => {}
            Err(WalkError::TooLarge) => self.unfinished = Some(Unfinished::Json(scan)),
            Err(_) => self.stopped = true,
        }
        walked?;
        match failure {
            Some(failure) => Err(failure),
            None => Ok(LongJson { rest, moved }),
        }
    }
}

impl<R: BufRead, E, F> Walk<'_, R, E, F>
where
    F: FnMut(Position, &[u8], usize) -> Result<(), E>,
{
    fn run(&mut self) -> Result<WalkEnd, WalkError<E>> {
        loop {
            let buffer = self
                .framer
                .input
                .fill_buf()
                .map_err(|error| WalkError::Stopped(Stop::Read(error)))?;
            if buffer.is_empty() {
                self.at_eof();
                return Ok(WalkEnd::Eof);
            }
            // A bounded piece: input held in memory is one buffer of it all.
            let (text, nul) = before_nul(&buffer[..buffer.len().min(CHUNK)]);
            // Copied out of the input's buffer, which cannot stay borrowed
            // while the framer moves on.
            let chunk = text.to_vec();
            if let Some(end) = self.walk_chunk(&chunk)? {
                return Ok(end);
            }
            if nul {
                return Err(WalkError::Stopped(Stop::NotText(self.framer.at)));
            }
        }
    }

    /// Walks `chunk`, moving the framer past what it reads.
    fn walk_chunk(&mut self, chunk: &[u8]) -> Result<Option<WalkEnd>, WalkError<E>> {
        let (mut at, mut consumed) = (0, 0);
        while at < chunk.len() {
            if let Some(items) = &mut self.items
                && items.element_start.is_some()
            {
                let (length, end) = self.scan.scan_element(&chunk[at..], items.depth);
                items.element.extend_from_slice(&chunk[at..at + length]);
                at += length;
                if end == Some(ElementEnd::LineBreakInString) {
                    self.consume(&chunk[consumed..at])?;
                    self.hand_over_element();
                    return Ok(Some(WalkEnd::Broken));
                }
                if end.is_none() {
                    break;
                }
            }
            let run = self.scan.plain_run(&chunk[at..]);
            self.take_plain(&chunk[at..at + run]);
            at += run;
            let Some(&byte) = chunk.get(at) else { break };
            at += 1;
            let end = self.step(byte);
            if end.is_some() || self.needs_position() {
                self.consume(&chunk[consumed..at])?;
                consumed = at;
                self.mark_position();
            }
            if let Some(end) = end {
                if matches!(end, WalkEnd::Broken) {
                    self.hand_over_element();
                }
                return Ok(Some(end));
            }
        }
        self.consume(&chunk[consumed..])?;
        Ok(None)
    }

    /// Moves the framer past `bytes`, counting them against the size limit.
    fn consume(&mut self, bytes: &[u8]) -> Result<(), WalkError<E>> {
        self.size += bytes.len();
        self.framer.at.advance(bytes);
        self.framer.input.consume(bytes.len());
        if self.size > self.framer.max_bytes {
            return Err(WalkError::TooLarge);
        }
        Ok(())
    }

    /// String content: kept where the walk is.
    fn take_plain(&mut self, bytes: &[u8]) {
        match &mut self.items {
            Some(items) => items.element.extend_from_slice(bytes),
            None => {
                self.rest.extend_from_slice(bytes);
                self.keys.take_plain(bytes);
            }
        }
    }

    /// One byte that may change where the walk stands; how the document
    /// ended, if it did.
    fn step(&mut self, byte: u8) -> Option<WalkEnd> {
        let (depth, in_string) = (self.scan.depth(), self.scan.in_string());
        let separates = matches!(&self.items, Some(items) if !in_string
            && depth == items.depth
            && matches!(byte, b',' | b']'));
        if separates {
            self.separator(byte);
        }
        let end = self.scan.step(byte);
        match &mut self.items {
            Some(items) if !separates => items.element.push(byte),
            Some(_) => {}
            None => {
                self.rest.push(byte);
                if let Some(depth) = self.keys.see(byte, depth, in_string, self.scan.in_string()) {
                    self.items = Some(ItemArray::new(depth));
                }
            }
        }
        match end? {
            JsonEnd::Balanced => Some(WalkEnd::Balanced),
            JsonEnd::LineBreakInString => Some(WalkEnd::Broken),
            // `before_nul` keeps NUL bytes from here.
            JsonEnd::NotText => None,
        }
    }

    /// A `,` or the closing `]` of the item array: the element before it is
    /// handed over.
    fn separator(&mut self, byte: u8) {
        let Some(items) = &mut self.items else { return };
        let blank = items.element_is_blank();
        let nothing = (blank && (byte == b',' || items.after_comma)).then(|| WalkError::Syntax {
            position: items.end_of_element(),
            message: if byte == b',' {
                "expected value"
            } else {
                "trailing comma"
            },
        });
        items.count += usize::from(!blank);
        let too_many = items.count > self.max_items;
        if let Some(error) = nothing {
            self.fail(error);
        }
        if too_many {
            self.fail(WalkError::TooManyItems);
        }
        self.hand_over_element();
        let Some(items) = &mut self.items else { return };
        if byte == b']' {
            self.close_items();
            return;
        }
        items.element.clear();
        items.element_start = None;
        items.after_comma = true;
    }

    /// Hands the current element to the caller, unless the walk has failed.
    fn hand_over_element(&mut self) {
        let Some(items) = &self.items else { return };
        if self.failure.is_some() || items.element_is_blank() {
            return;
        }
        let start = items.start();
        if let Err(error) = (self.on_item)(start, &items.element, items.depth) {
            self.fail(WalkError::Item(error));
        }
    }

    fn fail(&mut self, error: WalkError<E>) {
        self.failure.get_or_insert(error);
    }

    /// Right after the item array's `[` or one of its commas: the framer
    /// must be moved there to know where the next element starts.
    fn needs_position(&self) -> bool {
        matches!(&self.items, Some(items) if items.element_start.is_none())
    }

    fn mark_position(&mut self) {
        let at = self.framer.at;
        if let Some(items) = &mut self.items {
            items.opened.get_or_insert(at);
            items.element_start.get_or_insert(at);
        }
    }

    /// Leaves the item array; what follows it in the rest is moved back to
    /// where it is in the input.
    fn close_items(&mut self) {
        if let Some(items) = self.items.take() {
            let mut from = self.start;
            from.advance(&self.rest);
            self.moved = Some(Moved {
                from,
                to: items.end_of_element(),
            });
        }
    }

    /// The input ended inside the document: what was read is decoded, and
    /// fails where it ends.
    fn at_eof(&mut self) {
        self.hand_over_element();
        self.close_items();
    }
}

impl ItemArray {
    fn new(depth: usize) -> Self {
        ItemArray {
            depth,
            opened: None,
            element: Vec::new(),
            element_start: None,
            after_comma: false,
            count: 0,
        }
    }

    /// Where the current element's bytes start. The framer is moved there
    /// before any of them is read, so this is known by then.
    fn start(&self) -> Position {
        self.element_start.unwrap_or_else(|| self.opened())
    }

    fn opened(&self) -> Position {
        self.opened.unwrap_or(Position { line: 1, column: 1 })
    }

    /// Where the byte after the current element's bytes is.
    fn end_of_element(&self) -> Position {
        let mut at = self.start();
        at.advance(&self.element);
        at
    }

    fn element_is_blank(&self) -> bool {
        self.element.iter().all(u8::is_ascii_whitespace)
    }
}

impl Keys {
    /// String content of a key being read.
    fn take_plain(&mut self, bytes: &[u8]) {
        if self.state == KeyState::InKey {
            let room = KEY_BYTES.saturating_sub(self.key.len());
            self.key.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    /// Sees one byte outside the item array: `depth` and `in_string` are
    /// where it stands, `in_string_after` whether a string goes on after it.
    /// Returns the depth of the item array's elements when it opens one.
    fn see(
        &mut self,
        byte: u8,
        depth: usize,
        in_string: bool,
        in_string_after: bool,
    ) -> Option<usize> {
        match (depth, in_string) {
            (0, false) if byte == b'[' => return Some(1),
            (0, false) if byte == b'{' => self.state = KeyState::ExpectKey,
            (1, true) if self.state == KeyState::InKey && !in_string_after => {
                self.state = KeyState::AfterKey;
            }
            (1, false) => return self.see_structure(byte),
            _ => {}
        }
        None
    }

    /// A byte of the top-level object's own structure.
    fn see_structure(&mut self, byte: u8) -> Option<usize> {
        match (byte, &self.state) {
            (b'"', KeyState::ExpectKey) => {
                self.state = KeyState::InKey;
                self.key.clear();
            }
            (b':', KeyState::AfterKey) => self.state = KeyState::ExpectValue,
            (b'[', KeyState::ExpectValue) if self.key == b"items" => {
                self.state = KeyState::Other;
                return Some(2);
            }
            (b',', _) => self.state = KeyState::ExpectKey,
            (_, KeyState::ExpectValue) if !byte.is_ascii_whitespace() => {
                self.state = KeyState::Other;
            }
            _ => {}
        }
        None
    }
}
