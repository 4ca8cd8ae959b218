//! `kamaji-telemetry view DIR`: what local mode recorded, and would have sent.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kamaji_telemetry::transport::local_mode::{self, RecordLine};
use serde::Serialize;

use super::OutputFormat;

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The directory given to `--local-dir` in local mode.
    #[arg(value_name = "DIR")]
    dir: PathBuf,

    /// `text`: every body, then a summary; `json`: the summary as one object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

/// What a recording holds, in short.
#[derive(Debug, Default, Serialize)]
struct Summary {
    files: usize,
    payloads: u64,
    /// When the first and the last payload were built.
    first: Option<String>,
    last: Option<String>,
    routes: BTreeMap<String, u64>,
    /// Lines that are no record (cut by a crash, say), as `file:line`.
    unreadable: Vec<String>,
}

pub fn run(args: ViewArgs) -> anyhow::Result<ExitCode> {
    let mut summary = Summary::default();
    let mut out = std::io::stdout().lock();
    let mut written = Ok(());
    summary.files = local_mode::read_records(&args.dir, |line| match line {
        RecordLine::Recorded(record) => {
            if args.output == OutputFormat::Text && written.is_ok() {
                written = writeln!(out, "{} {} {}", record.at, record.route, record.body);
            }
            summary.payloads += 1;
            *summary.routes.entry(record.route).or_default() += 1;
            summary.first.get_or_insert_with(|| record.at.clone());
            summary.last = Some(record.at);
        }
        RecordLine::Unreadable { path, line } => summary
            .unreadable
            .push(format!("{}:{line}", path.display())),
    })?;
    written?;
    match args.output {
        OutputFormat::Text => writeln!(out, "{}", summary.text())?,
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(&summary)?)?,
    }
    Ok(ExitCode::SUCCESS)
}

impl Summary {
    fn text(&self) -> String {
        let routes: Vec<String> = self
            .routes
            .iter()
            .map(|(route, count)| format!("{route} {count}"))
            .collect();
        let span = match (&self.first, &self.last) {
            (Some(first), Some(last)) => format!(", built from {first} to {last}"),
            _ => String::new(),
        };
        let mut text = format!(
            "{} payloads in {} files{span}: {}",
            self.payloads,
            self.files,
            if routes.is_empty() {
                "none".to_owned()
            } else {
                routes.join(", ")
            }
        );
        if !self.unreadable.is_empty() {
            text.push_str(&format!(
                "; {} unreadable lines: {}",
                self.unreadable.len(),
                self.unreadable.join(", ")
            ));
        }
        text
    }
}
