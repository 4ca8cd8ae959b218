//! `kamaji-telemetry preview`: what would be sent, and nothing is.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kamaji_telemetry::model::Payload;
use kamaji_telemetry::pipeline::Pipeline;

use super::input::{self, PayloadSink, Totals};
use super::{GlobalArgs, InstallationArgs, OutputFormat};
use kamaji_telemetry::payload_line::payload_line;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Kubernetes JSON or YAML documents: AdmissionReviews, TenantControlPlanes,
    /// or Lists as `kubectl get tenantcontrolplanes,datastores -A -o json`
    /// prints them. `-` reads stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    inputs: Vec<PathBuf>,

    /// Output format: `json` prints one {"route", "body", "redactions"} object per line.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,

    #[command(flatten)]
    installation: InstallationArgs,
}

/// Preview never sends, so it works when telemetry is off.
pub fn run(global: &GlobalArgs, args: PreviewArgs) -> anyhow::Result<ExitCode> {
    let sources = input::open_sources(&args.inputs)?;
    let pipeline = Pipeline::new(global.load_plugin()?, args.installation.installation());
    let mut printer = Printer {
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        format: args.output,
        error: None,
    };
    let totals = input::process_all(&pipeline, sources, &mut printer);
    if let Some(error) = printer.error {
        return Err(anyhow::Error::new(error).context("cannot write the preview"));
    }
    printer.out.flush()?;
    drop(printer);
    if args.output == OutputFormat::Text {
        eprintln!("{}", summary(&totals));
    }
    Ok(if totals.has_problems() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints payloads as they come, flushed after each batch: a reader of an
/// endless `kubectl get -w` pipe sees each payload as soon as its document is
/// complete, and a file's thousands of payloads cost a write per batch, not
/// one each. The first write error stops the printing.
struct Printer<W: Write> {
    out: W,
    format: OutputFormat,
    error: Option<std::io::Error>,
}

impl<W: Write> PayloadSink for &mut Printer<W> {
    fn payload(&mut self, label: &str, payload: Payload) {
        if self.error.is_none() {
            self.error = write_payload(&mut self.out, self.format, label, &payload).err();
        }
    }

    fn batch_done(&mut self) {
        if self.error.is_none() {
            self.error = self.out.flush().err();
        }
    }
}

fn write_payload(
    out: &mut impl Write,
    format: OutputFormat,
    label: &str,
    payload: &Payload,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => writeln!(out, "{}", payload_line(payload, None)?),
        OutputFormat::Text => {
            writeln!(out, "# {label}: POST /{}", payload.route.as_str())?;
            writeln!(out, "{}", payload.body)?;
            for redaction in &payload.redactions {
                let action = redaction.action.as_str();
                writeln!(
                    out,
                    "#   {action} {}: {}",
                    redaction.field, redaction.reason
                )?;
            }
            writeln!(out)
        }
    }
}

fn summary(totals: &Totals) -> String {
    format!(
        "preview: {} payloads, {} events with nothing to send, {} blocked, {} plugin failures, {} bad documents, {} skipped; nothing was sent",
        totals.payloads,
        totals.nothing,
        totals.blocked,
        totals.failed,
        totals.bad_documents,
        totals.skipped
    )
}
