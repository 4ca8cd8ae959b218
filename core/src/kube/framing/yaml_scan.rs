//! YAML documents: where one ends (a `---` or `...` line, or a line that
//! opens a JSON document), told line by line without parsing it.

use std::io::BufRead;

use super::{Ending, Framer, Piece, Position, Stop, Syntax, Unfinished};

impl<R: BufRead> Framer<R> {
    /// A YAML document, or `None` for one with nothing but comments, blank
    /// lines, directives and markers.
    pub(super) fn yaml_piece(&mut self, start: Position) -> Result<Option<Piece>, Stop> {
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

    /// Reads a YAML document's lines until it ends, keeping them in `kept`
    /// while they fit. Also says whether it had any content.
    pub(super) fn cut_yaml(
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
}

/// Takes a separator line that ends a document back out of its bytes.
fn drop_last_line(kept: &mut Option<Vec<u8>>, line: &Line) {
    if let Some(bytes) = kept {
        bytes.truncate(bytes.len().saturating_sub(line.length));
    }
}

/// What a YAML document has had so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct YamlScan {
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
pub(super) struct Line {
    head: Vec<u8>,
    length: usize,
}

impl Line {
    /// Enough to tell a marker with a comment from content.
    const HEAD: usize = 256;

    pub(super) fn add(&mut self, bytes: &[u8]) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
