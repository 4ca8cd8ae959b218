//! Reading the inputs (files or stdin) and running every document through the
//! pipeline, with one uniform report of what went wrong where.
//!
//! A source is decoded on a thread of its own, a bounded channel ahead of the
//! plugin. The plugin takes every event decoded so far in one batch, and
//! never waits for a batch to fill: a `kubectl get -w` stream gets each
//! payload as soon as its document is read, a file gets full batches.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};

use anyhow::Context;
use kamaji_telemetry::kube::{self, DecodeError, DecodedDocument, Limits};
use kamaji_telemetry::model::{Event, Payload};
use kamaji_telemetry::pipeline::{MAX_BATCH, Pipeline};
use kamaji_telemetry::plugin::Outcome;

/// One input, opened but not read yet, and how messages name it.
pub struct Source {
    label: String,
    input: Box<dyn BufRead + Send>,
}

/// Opens every input, so that a missing file stops the run before anything
/// is built; `-` is stdin. They are read later, one at a time.
pub fn open_sources(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    paths.iter().map(|path| open_source(path)).collect()
}

fn open_source(path: &Path) -> anyhow::Result<Source> {
    if path == Path::new("-") {
        return Ok(Source {
            label: "stdin".into(),
            input: Box::new(BufReader::with_capacity(64 << 10, std::io::stdin())),
        });
    }
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Source {
        label: path.display().to_string(),
        input: Box::new(BufReader::with_capacity(64 << 10, file)),
    })
}

/// What happened to the documents of a run.
#[derive(Debug, Default)]
pub struct Totals {
    /// Payloads that passed the leak guard.
    pub payloads: usize,
    /// Events for which the plugin had nothing to send.
    pub nothing: usize,
    /// Payloads the leak guard stopped.
    pub blocked: usize,
    /// Events the plugin failed on.
    pub failed: usize,
    /// Documents that could not be decoded.
    pub bad_documents: usize,
    /// Well-formed documents with nothing to report (other kinds).
    pub skipped: usize,
}

impl Totals {
    /// True when some document or event did not make it to a payload for a
    /// reason other than having nothing to report.
    pub fn has_problems(&self) -> bool {
        self.blocked + self.failed + self.bad_documents > 0
    }
}

/// Where the payloads of a run go.
pub trait PayloadSink {
    /// One payload, with its document's label.
    fn payload(&mut self, label: &str, payload: Payload);

    /// A batch is done and no more input is decoded yet: a sink that buffers
    /// hands on what it holds now, so that a reader of an endless stream sees
    /// each payload as soon as its document is complete.
    fn batch_done(&mut self) {}
}

impl<F: FnMut(&str, Payload)> PayloadSink for F {
    fn payload(&mut self, label: &str, payload: Payload) {
        self(label, payload);
    }
}

/// Runs every document of every source through the pipeline as it is read,
/// hands each payload to `sink` with the document's label, and reports
/// problems on stderr as they happen.
pub fn process_all(
    pipeline: &Pipeline,
    sources: Vec<Source>,
    mut sink: impl PayloadSink,
) -> Totals {
    let mut totals = Totals::default();
    for source in sources {
        let label = source.label.clone();
        if process_source(pipeline, source, &mut totals, &mut sink) == 0 {
            eprintln!("error: {label}: no Kubernetes document in it");
            totals.bad_documents += 1;
        }
    }
    totals
}

/// Processes one source's documents; returns how many it held.
fn process_source(
    pipeline: &Pipeline,
    source: Source,
    totals: &mut Totals,
    sink: &mut impl PayloadSink,
) -> usize {
    let Source { label, input } = source;
    // Decoded with only what the plugin reads, so that a large List costs
    // what the plugin is shown of it.
    let reads = pipeline.plugin().description().reads;
    std::thread::scope(|scope| {
        let (decoded, documents) = mpsc::sync_channel(MAX_BATCH);
        scope.spawn(move || {
            for document in kube::decode_reader(input, Limits::default()).showing(reads) {
                if decoded.send(document).is_err() {
                    break;
                }
            }
        });
        let mut batcher = Batcher {
            pipeline,
            label: &label,
            totals,
            sink,
            batch: Vec::new(),
        };
        batcher.run(&documents)
    })
}

/// Gathers decoded events into batches and reports each document's fate.
struct Batcher<'a, S> {
    pipeline: &'a Pipeline,
    label: &'a str,
    totals: &'a mut Totals,
    sink: &'a mut S,
    /// Events with their labels, waiting for the plugin.
    batch: Vec<(String, Event)>,
}

impl<S: PayloadSink> Batcher<'_, S> {
    /// Takes documents until the source ends; returns how many there were.
    fn run(&mut self, documents: &Receiver<Result<DecodedDocument, DecodeError>>) -> usize {
        let mut count = 0;
        while let Ok(first) = documents.recv() {
            // Whatever else is decoded already joins the batch; nothing waits.
            for document in std::iter::once(first).chain(documents.try_iter()) {
                count += 1;
                self.take(document);
                if self.batch.len() == MAX_BATCH {
                    self.flush();
                }
            }
            self.flush();
        }
        count
    }

    fn take(&mut self, document: Result<DecodedDocument, DecodeError>) {
        match document {
            Ok(decoded) => {
                let label = format!("{}, document {}", self.label, decoded.document);
                self.batch.push((label, decoded.event));
            }
            Err(error) if error.is_skip() => {
                tracing::info!("{}: skipped {error}", self.label);
                self.totals.skipped += 1;
            }
            Err(error) => {
                // The events before it are reported first, in input order.
                self.flush();
                eprintln!("error: {}: {error}", self.label);
                self.totals.bad_documents += 1;
            }
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let (labels, events): (Vec<String>, Vec<Event>) = self.batch.drain(..).unzip();
        let outcomes = self.pipeline.process_batch(events);
        for (label, outcome) in labels.iter().zip(outcomes) {
            self.report(label, outcome);
        }
        self.sink.batch_done();
    }

    fn report(&mut self, label: &str, outcome: Outcome) {
        match outcome {
            Outcome::Ready(payload) => {
                self.totals.payloads += 1;
                self.sink.payload(label, payload);
            }
            Outcome::Nothing => self.totals.nothing += 1,
            Outcome::Blocked(leak) => {
                eprintln!("blocked: {label}: the payload carries {leak}; it is not sent");
                self.totals.blocked += 1;
            }
            Outcome::Failed(error) => {
                eprintln!("error: {label}: {error}");
                self.totals.failed += 1;
            }
        }
    }
}
