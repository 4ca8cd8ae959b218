//! Reading the inputs (files or stdin) and running every document through the
//! pipeline, with one uniform report of what went wrong where.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context;
use kamaji_telemetry::kube::{self, Limits};
use kamaji_telemetry::pipeline::{Outcome, Pipeline};
use kamaji_telemetry::plugin::bindings::Payload;

/// One input, opened but not read yet, and how messages name it.
pub struct Source {
    label: String,
    input: Box<dyn BufRead>,
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
            input: Box::new(std::io::stdin().lock()),
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

/// Runs every document of every source through the pipeline as it is read,
/// hands each payload to `on_payload` with the document's label, and reports
/// problems on stderr as they happen.
pub fn process_all(
    pipeline: &Pipeline,
    sources: Vec<Source>,
    mut on_payload: impl FnMut(&str, Payload),
) -> Totals {
    let mut totals = Totals::default();
    for source in sources {
        let label = source.label.clone();
        if process_source(pipeline, source, &mut totals, &mut on_payload) == 0 {
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
    on_payload: &mut impl FnMut(&str, Payload),
) -> usize {
    let mut documents = 0;
    for document in kube::decode_reader(source.input, Limits::default()) {
        documents += 1;
        let decoded = match document {
            Ok(decoded) => decoded,
            Err(error) if error.is_skip() => {
                tracing::info!("{}: skipped {error}", source.label);
                totals.skipped += 1;
                continue;
            }
            Err(error) => {
                eprintln!("error: {}: {error}", source.label);
                totals.bad_documents += 1;
                continue;
            }
        };
        let label = format!("{}, document {}", source.label, decoded.document);
        match pipeline.process(&decoded.event) {
            Outcome::Ready(payload) => {
                totals.payloads += 1;
                on_payload(&label, payload);
            }
            Outcome::Nothing => totals.nothing += 1,
            Outcome::Blocked(leak) => {
                eprintln!("blocked: {label}: the payload carries {leak}; it is not sent");
                totals.blocked += 1;
            }
            Outcome::Failed(error) => {
                eprintln!("error: {label}: {error}");
                totals.failed += 1;
            }
        }
    }
    documents
}
