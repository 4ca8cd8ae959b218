//! Giving bytes already read back to the framer: a long JSON document is
//! read again from its start by the walk, and the whole documents inside a
//! truncated one are read again after it.

use std::io::{self, BufRead};

/// A reader that gives back some bytes before going on with its input.
pub(super) struct Replay<R> {
    replay: Vec<u8>,
    replayed: usize,
    inner: R,
}

impl<R: BufRead> Replay<R> {
    pub(super) fn new(inner: R) -> Self {
        Replay {
            replay: Vec::new(),
            replayed: 0,
            inner,
        }
    }

    pub(super) fn replay(&mut self, mut bytes: Vec<u8>) {
        bytes.extend_from_slice(&self.replay[self.replayed..]);
        self.replay = bytes;
        self.replayed = 0;
    }

    pub(super) fn fill_buf(&mut self) -> io::Result<&[u8]> {
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

    pub(super) fn consume(&mut self, amount: usize) {
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
