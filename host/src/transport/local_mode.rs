//! Local mode, as Go's telemetry has it: every payload is built and checked
//! as usual, then written with its redaction report to a directory of JSON
//! lines instead of being sent. Nothing opens a connection. An operator can
//! run it for a week, read what would have gone (`kamaji-telemetry view
//! DIR`), then switch telemetry on.
//!
//! The directory is bounded: records go to `payloads-NNNNNN.jsonl`, numbered
//! in order; a file is closed once it holds a [`FILES`]th of the budget, and
//! the oldest files are removed so that at most [`FILES`] remain. Each line
//! is the `preview --output json` line of the payload with `"at"` (RFC 3339,
//! UTC) first, written with one call, so that a crash can cut at most the
//! last line, which `view` reports as unreadable.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::Payload;
use crate::payload_line::payload_line;

/// How many files the budget is shared among.
pub const FILES: u64 = 8;

const PREFIX: &str = "payloads-";
const SUFFIX: &str = ".jsonl";

/// Why local mode could not record or read.
#[derive(Debug, thiserror::Error)]
pub enum LocalModeError {
    #[error("cannot use the directory {}: {source}", dir.display())]
    Directory {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode a payload as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Writes payloads to a bounded directory of JSON lines.
#[derive(Debug)]
pub struct LocalRecorder {
    dir: PathBuf,
    /// A file is closed once it holds this many bytes.
    file_budget: u64,
    current: Option<OpenRecordFile>,
}

#[derive(Debug)]
struct OpenRecordFile {
    number: u64,
    file: File,
    size: u64,
}

impl LocalRecorder {
    /// Records into `dir` (created if missing), keeping about `budget` bytes
    /// at most; goes on after the newest file a previous run left.
    pub fn open(dir: &Path, budget: u64) -> Result<Self, LocalModeError> {
        let directory_error = |source| LocalModeError::Directory {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(directory_error)?;
        let newest = record_files(dir).map_err(directory_error)?.pop();
        let mut recorder = Self {
            dir: dir.to_owned(),
            file_budget: (budget / FILES).max(1),
            current: None,
        };
        if let Some((number, _)) = newest {
            recorder.current = Some(recorder.open_file(number)?);
        }
        Ok(recorder)
    }

    /// Appends one payload, built at `at`.
    pub fn record(&mut self, payload: &Payload, at: SystemTime) -> Result<(), LocalModeError> {
        let mut line = payload_line(payload, Some(at))?;
        line.push('\n');
        let mut current = match self.current.take() {
            Some(current) if current.size < self.file_budget => current,
            full_or_none => self.start_file_after(full_or_none)?,
        };
        let written = current.file.write_all(line.as_bytes());
        current.size += line.len() as u64;
        let number = current.number;
        self.current = Some(current);
        written.map_err(|source| LocalModeError::Write {
            path: file_path(&self.dir, number),
            source,
        })
    }

    /// Starts the file after `previous`, and removes the oldest beyond [`FILES`].
    fn start_file_after(
        &self,
        previous: Option<OpenRecordFile>,
    ) -> Result<OpenRecordFile, LocalModeError> {
        let next = self.open_file(previous.map_or(1, |previous| previous.number + 1))?;
        let files = record_files(&self.dir).map_err(|source| LocalModeError::Directory {
            dir: self.dir.clone(),
            source,
        })?;
        let excess = files.len().saturating_sub(FILES as usize);
        for (_, path) in &files[..excess] {
            std::fs::remove_file(path).map_err(|source| LocalModeError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(next)
    }

    fn open_file(&self, number: u64) -> Result<OpenRecordFile, LocalModeError> {
        let path = file_path(&self.dir, number);
        let opened = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|file| end_the_last_line(file, &path));
        let (size, file) = opened.map_err(|source| LocalModeError::Write { path, source })?;
        Ok(OpenRecordFile { number, file, size })
    }
}

/// A line a crash cut short is ended, so that the next record starts a line
/// of its own; returns the size and the file.
fn end_the_last_line(mut file: File, path: &Path) -> std::io::Result<(u64, File)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut size = file.metadata()?.len();
    if size > 0 {
        let mut last = [0u8];
        let mut reader = File::open(path)?;
        reader.seek(SeekFrom::End(-1))?;
        reader.read_exact(&mut last)?;
        if last != *b"\n" {
            file.write_all(b"\n")?;
            size += 1;
        }
    }
    Ok((size, file))
}

fn file_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{number:06}{SUFFIX}"))
}

/// The record files of `dir`, oldest first.
fn record_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX))
            .and_then(|number| number.parse().ok());
        if let Some(number) = number {
            files.push((number, path));
        }
    }
    files.sort();
    Ok(files)
}

/// One recorded payload, as `view` reads it back.
#[derive(Debug, Deserialize)]
pub struct Recorded {
    /// When it was built (RFC 3339).
    pub at: String,
    pub route: String,
    pub body: Box<RawValue>,
    pub redactions: Vec<serde_json::Value>,
}

/// What one line of a record file held.
#[derive(Debug)]
pub enum RecordLine {
    Recorded(Recorded),
    /// Not a record (a line cut by a crash, say): where it is.
    Unreadable {
        path: PathBuf,
        line: usize,
    },
}

/// Calls `visit` with every line of every record file of `dir`, oldest
/// first, one line in memory at a time.
pub fn read_records(
    dir: &Path,
    mut visit: impl FnMut(RecordLine),
) -> Result<usize, LocalModeError> {
    let files = record_files(dir).map_err(|source| LocalModeError::Directory {
        dir: dir.to_owned(),
        source,
    })?;
    for (_, path) in &files {
        let read_error = |source| LocalModeError::Read {
            path: path.clone(),
            source,
        };
        let reader = BufReader::new(File::open(path).map_err(read_error)?);
        for (index, line) in reader.lines().enumerate() {
            let line = line.map_err(read_error)?;
            visit(match serde_json::from_str(&line) {
                Ok(recorded) => RecordLine::Recorded(recorded),
                Err(_) => RecordLine::Unreadable {
                    path: path.clone(),
                    line: index + 1,
                },
            });
        }
    }
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Redaction, RedactionAction, Route};

    fn payload(n: usize) -> Payload {
        Payload {
            route: Route::Create,
            body: format!(r#"{{"tcp_version":"v1.30.{n}"}}"#),
            redactions: vec![Redaction {
                field: "tenant-control-plane.name".into(),
                action: RedactionAction::Dropped,
                reason: "names a tenant".into(),
            }],
        }
    }

    fn read(dir: &Path) -> (usize, Vec<Recorded>, usize) {
        let (mut recorded, mut unreadable) = (Vec::new(), 0);
        let files = read_records(dir, |line| match line {
            RecordLine::Recorded(record) => recorded.push(record),
            RecordLine::Unreadable { .. } => unreadable += 1,
        })
        .expect("readable");
        (files, recorded, unreadable)
    }

    #[test]
    fn records_read_back_as_they_were_built() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut recorder = LocalRecorder::open(dir.path(), 1 << 20).expect("opens");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        recorder.record(&payload(1), at).expect("records");
        let (files, recorded, unreadable) = read(dir.path());
        assert_eq!((files, recorded.len(), unreadable), (1, 1, 0));
        assert_eq!(recorded[0].at, "2026-09-21T14:13:20Z");
        assert_eq!(recorded[0].route, "create");
        assert_eq!(recorded[0].body.get(), r#"{"tcp_version":"v1.30.1"}"#);
        assert_eq!(recorded[0].redactions[0]["action"], "dropped");
    }

    #[test]
    fn the_directory_stays_within_its_budget_and_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let budget = 8 * 1024;
        let mut recorder = LocalRecorder::open(dir.path(), budget).expect("opens");
        for n in 0..2_000 {
            recorder
                .record(&payload(n), SystemTime::now())
                .expect("records");
        }
        let size: u64 = record_files(dir.path())
            .expect("listed")
            .iter()
            .map(|(_, path)| std::fs::metadata(path).expect("metadata").len())
            .sum();
        let line = payload_line(&payload(1999), Some(SystemTime::now()))
            .expect("JSON")
            .len() as u64
            + 1;
        // Each file may pass its share by the one line that filled it.
        assert!(size <= budget + FILES * line, "{size} bytes");
        let (files, recorded, _) = read(dir.path());
        assert_eq!(files as u64, FILES);
        let last = recorded.last().expect("records");
        assert_eq!(last.body.get(), r#"{"tcp_version":"v1.30.1999"}"#);
    }

    #[test]
    fn a_new_run_goes_on_after_the_last_and_a_cut_line_is_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        LocalRecorder::open(dir.path(), 1 << 20)
            .expect("opens")
            .record(&payload(1), SystemTime::now())
            .expect("records");
        let first = file_path(dir.path(), 1);
        let mut file = OpenOptions::new().append(true).open(&first).expect("opens");
        file.write_all(br#"{"at":"2026-"#)
            .expect("a line cut short");
        LocalRecorder::open(dir.path(), 1 << 20)
            .expect("opens again")
            .record(&payload(2), SystemTime::now())
            .expect("records");
        let (files, recorded, unreadable) = read(dir.path());
        assert_eq!((files, recorded.len(), unreadable), (1, 2, 1));
    }
}
