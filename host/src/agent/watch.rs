//! Noticing that a file changed, by polling its content.
//!
//! Why polling and not inotify: in Kubernetes the plugin and the config file
//! come from ConfigMap or Secret volumes, which are updated by writing a new
//! directory and atomically swapping a `..data` symlink. An inotify watch on
//! the file follows the old inode, which is deleted, and goes silent; editors
//! and `kubectl cp` also replace files by renaming. Reading a small file every
//! couple of seconds costs next to nothing, works on every filesystem, and
//! comparing content hashes (not mtimes) means a `touch` or an identical
//! re-write triggers nothing.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::signal::unix::Signal;
use tokio::time::MissedTickBehavior;

/// Calls `on_change` with the file's content each time it changes, and on
/// every SIGHUP whether or not it changed, until the task is aborted. Calls
/// never overlap: a change that lands during one is seen at the next poll.
pub async fn follow(
    mut watch: FileWatch,
    interval: Duration,
    mut hangup: Signal,
    mut on_change: impl AsyncFnMut(Vec<u8>),
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let read = tokio::select! {
            _ = ticker.tick() => watch.poll().await,
            Some(()) = hangup.recv() => {
                tracing::info!(file = %watch.path().display(), "SIGHUP: reading the file again");
                watch.read().await.map_or_else(Polled::Unreadable, Polled::Changed)
            }
        };
        match read {
            Polled::Changed(bytes) => on_change(bytes).await,
            Polled::Unchanged => {}
            Polled::Unreadable(error) => tracing::warn!(
                file = %watch.path().display(),
                "cannot read the file, keeping what it said before: {error}"
            ),
        }
    }
}

/// What a poll found.
#[derive(Debug)]
pub enum Polled {
    /// Same content as last time, or still unreadable.
    Unchanged,
    /// New content.
    Changed(Vec<u8>),
    /// The file became unreadable: reported once, until it is readable again.
    Unreadable(io::Error),
}

/// Polls one file for new content.
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    seen: [u8; 32],
    unreadable: bool,
}

impl FileWatch {
    /// A watch that takes `current` as the content already seen.
    pub fn new(path: impl Into<PathBuf>, current: &[u8]) -> Self {
        Self {
            path: path.into(),
            seen: digest(current),
            unreadable: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file and says whether its content changed since the last read.
    pub async fn poll(&mut self) -> Polled {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => {
                if self.record(&bytes) {
                    Polled::Changed(bytes)
                } else {
                    Polled::Unchanged
                }
            }
            Err(_) if self.unreadable => Polled::Unchanged,
            Err(error) => {
                self.unreadable = true;
                Polled::Unreadable(error)
            }
        }
    }

    /// Reads the file whether or not it changed (for SIGHUP), and records its
    /// content as seen.
    pub async fn read(&mut self) -> io::Result<Vec<u8>> {
        let bytes = tokio::fs::read(&self.path).await?;
        self.record(&bytes);
        Ok(bytes)
    }

    /// Notes `bytes` as seen; true when they differ from what was seen before.
    fn record(&mut self, bytes: &[u8]) -> bool {
        self.unreadable = false;
        let digest = digest(bytes);
        std::mem::replace(&mut self.seen, digest) != digest
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn content_changes_are_seen_and_rewrites_are_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("file");
        std::fs::write(&path, "one").expect("write");
        let mut watch = FileWatch::new(&path, b"one");
        assert!(matches!(watch.poll().await, Polled::Unchanged));
        std::fs::write(&path, "one").expect("rewrite");
        assert!(matches!(watch.poll().await, Polled::Unchanged));
        std::fs::write(&path, "two").expect("write");
        assert!(matches!(watch.poll().await, Polled::Changed(bytes) if bytes == b"two"));
        assert!(matches!(watch.poll().await, Polled::Unchanged));
    }

    #[tokio::test]
    async fn a_symlink_swap_like_a_configmap_update_is_seen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        std::fs::write(&old, "disabled: false").expect("write");
        std::fs::write(&new, "disabled: true").expect("write");
        let link = dir.path().join("config.yaml");
        std::os::unix::fs::symlink(&old, &link).expect("link");
        let mut watch = FileWatch::new(&link, b"disabled: false");
        let staged = dir.path().join("staged");
        std::os::unix::fs::symlink(&new, &staged).expect("link");
        std::fs::rename(&staged, &link).expect("swap");
        assert!(matches!(watch.poll().await, Polled::Changed(bytes) if bytes == b"disabled: true"));
    }

    #[tokio::test]
    async fn an_unreadable_file_is_reported_once_and_its_return_is_a_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("file");
        let mut watch = FileWatch::new(&path, b"one");
        assert!(matches!(watch.poll().await, Polled::Unreadable(_)));
        assert!(matches!(watch.poll().await, Polled::Unchanged));
        std::fs::write(&path, "two").expect("write");
        assert!(matches!(watch.poll().await, Polled::Changed(_)));
    }
}
