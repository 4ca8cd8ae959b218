//! `kamaji-telemetry plugin check`: everything `serve` checks before it
//! takes a plugin, and what the plugin costs, in one report. It exits
//! non-zero exactly when `serve` would refuse the plugin.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kamaji_telemetry::model::Payload;
use kamaji_telemetry::pipeline::Pipeline;
use kamaji_telemetry::plugin::{
    ContractVersion, ImportStatus, PLUGIN_INTERFACE, PluginRuntime, PluginSource, SelfTestCall,
    SelfTested, vet,
};
use serde::Serialize;

use super::input;
use super::output::{reads_text, route_names, routes_text};
use super::{GlobalArgs, InstallationArgs, OutputFormat, block_on};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin: a file or an oci:// reference [default: --plugin, else the embedded one].
    #[arg(value_name = "FILE|oci://REF")]
    plugin: Option<PluginSource>,

    /// Kubernetes inputs (as for `preview`) to show the bodies the plugin builds from.
    #[arg(long = "input", value_name = "FILE")]
    inputs: Vec<PathBuf>,

    /// Output format: `json` prints one object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,

    #[command(flatten)]
    installation: InstallationArgs,
}

/// The whole report, as `--output json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    plugin: String,
    oci_digest: Option<String>,
    size_bytes: usize,
    /// Whether `serve` would take it, and if not, why.
    accepted: bool,
    refusal: Option<String>,
    compile_ms: Option<f64>,
    contract_version: Option<String>,
    description: Option<DescriptionLine>,
    imports: Vec<ImportLine>,
    self_test: Vec<SelfTestLine>,
    inputs: Vec<BodyLine>,
    limits: LimitsLine,
}

#[derive(Debug, Serialize)]
struct DescriptionLine {
    name: String,
    version: String,
    wire_schema: String,
    /// The input field groups it is shown.
    reads: Vec<&'static str>,
    /// The routes it declared; `null` when its contract has no declarations.
    routes: Option<Vec<&'static str>>,
    /// Both in words, as `plugin describe` prints them.
    #[serde(skip)]
    reads_text: String,
    #[serde(skip)]
    routes_text: String,
}

#[derive(Debug, Serialize)]
struct ImportLine {
    name: String,
    /// `granted` (the contract's own types), `stubbed` (WASI, answered by
    /// the closed profile) or `denied` (anything else: every call traps).
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct SelfTestLine {
    event: &'static str,
    route: &'static str,
    /// `payload`, `nothing` or `failed`.
    result: &'static str,
    body: Option<String>,
    failure: Option<String>,
    call_ms: f64,
    peak_memory_bytes: usize,
}

#[derive(Debug, Serialize)]
struct BodyLine {
    input: String,
    route: &'static str,
    body: String,
}

#[derive(Debug, Default, Serialize)]
struct LimitsLine {
    deadline_ms: f64,
    memory_cap_bytes: usize,
    output_cap_bytes: usize,
    slowest_call_ms: f64,
    peak_memory_bytes: usize,
}

pub fn run(global: &GlobalArgs, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let artifact = match &args.plugin {
        Some(source) => block_on(source.fetch(&global.registry_options()))??,
        None => global.plugin_artifact()?,
    };
    let limits = global.limits();
    let mut report = Report {
        plugin: artifact.origin.clone(),
        oci_digest: artifact.oci_digest.clone(),
        size_bytes: artifact.bytes.len(),
        accepted: false,
        refusal: None,
        compile_ms: None,
        contract_version: None,
        description: None,
        imports: Vec::new(),
        self_test: Vec::new(),
        inputs: Vec::new(),
        limits: LimitsLine {
            deadline_ms: millis(limits.deadline),
            memory_cap_bytes: limits.memory_bytes,
            output_cap_bytes: limits.output_bytes,
            ..LimitsLine::default()
        },
    };
    // No cache: the compile time is what a first start costs.
    let runtime = PluginRuntime::new(limits, None)?;
    let vetting = vet(&runtime, &artifact);
    report.refusal = vetting.refusal().map(|refusal| refusal.to_string());
    report.accepted = report.refusal.is_none();
    if let Ok(tested) = vetting.tested {
        report.compile_ms = Some(millis(vetting.load_time));
        examine(&mut report, tested, &args)?;
    }
    let printed = match args.output {
        OutputFormat::Json => serde_json::to_string(&report)? + "\n",
        OutputFormat::Text => text(&report),
    };
    // Not print!: a closed pipe (`| head`) is an error to report, not a panic.
    std::io::stdout()
        .lock()
        .write_all(printed.as_bytes())
        .context("cannot write the report")?;
    Ok(if report.accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Everything after a successful load: the plugin's interface, its
/// description, its self-test calls, and the bodies of the inputs.
fn examine(report: &mut Report, tested: SelfTested, args: &CheckArgs) -> anyhow::Result<()> {
    let SelfTested { plugin, calls } = tested;
    report.contract_version = Some(plugin.contract().as_str().to_owned());
    report.imports = plugin
        .imports()
        .iter()
        .map(|name| import_line(name))
        .collect();
    let description = plugin.description();
    report.description = Some(DescriptionLine {
        name: description.name.clone(),
        version: description.version.clone(),
        wire_schema: description.wire_schema.clone(),
        reads: description.reads.names(),
        routes: route_names(description),
        reads_text: reads_text(description),
        routes_text: routes_text(description.routes.as_deref()),
    });
    report.self_test = calls.iter().map(self_test_line).collect();
    report.limits.slowest_call_ms = calls
        .iter()
        .map(|call| millis(call.stats.elapsed))
        .fold(0.0, f64::max);
    report.limits.peak_memory_bytes = calls
        .iter()
        .map(|call| call.stats.peak_memory)
        .max()
        .unwrap_or_default();
    let sources = input::open_sources(&args.inputs)?;
    let pipeline = Pipeline::new(plugin, args.installation.installation());
    input::process_all(&pipeline, sources, |label: &str, payload: Payload| {
        report.inputs.push(BodyLine {
            input: label.to_owned(),
            route: payload.route.as_str(),
            body: payload.body,
        });
    });
    Ok(())
}

fn import_line(name: &str) -> ImportLine {
    ImportLine {
        name: name.to_owned(),
        status: ImportStatus::of(name).as_str(),
    }
}

fn self_test_line(call: &SelfTestCall) -> SelfTestLine {
    let (result, body, failure) = match &call.verdict {
        Ok(Some(payload)) => ("payload", Some(payload.body.clone()), None),
        Ok(None) => ("nothing", None, None),
        Err(failure) => ("failed", None, Some(failure.to_string())),
    };
    SelfTestLine {
        event: call.event,
        route: call.route.as_str(),
        result,
        body,
        failure,
        call_ms: millis(call.stats.elapsed),
        peak_memory_bytes: call.stats.peak_memory,
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// The report for a person: verdict last, where the eye ends up.
fn text(report: &Report) -> String {
    let mut out = format!("plugin      {}\n", report.plugin);
    if let Some(digest) = &report.oci_digest {
        out += &format!("oci digest  {digest}\n");
    }
    out += &format!("size        {} bytes\n", report.size_bytes);
    if let Some(compile) = report.compile_ms {
        out += &format!("compile     {compile:.1} ms\n");
    }
    if let Some(version) = &report.contract_version {
        out += &format!(
            "contract    {PLUGIN_INTERFACE}@{version} (this host: {})\n",
            ContractVersion::supported_list()
        );
    }
    if let Some(description) = &report.description {
        out += &format!(
            "describes   {} {}, wire schema {}\n",
            description.name, description.version, description.wire_schema
        );
        out += &format!("reads       {}\n", description.reads_text);
        out += &format!("routes      {}\n", description.routes_text);
    }
    for import in &report.imports {
        out += &format!("import      {:<8} {}\n", import.status, import.name);
    }
    for line in &report.self_test {
        out += &format!(
            "self-test   {:<9} -> /{:<6} {:<7} {:>8.2} ms {:>7.2} MiB",
            line.event,
            line.route,
            line.result,
            line.call_ms,
            mib(line.peak_memory_bytes)
        );
        if let Some(text) = line.body.as_ref().or(line.failure.as_ref()) {
            out += &format!("  {text}");
        }
        out.push('\n');
    }
    for body in &report.inputs {
        out += &format!(
            "input       {} -> /{}  {}\n",
            body.input, body.route, body.body
        );
    }
    let limits = &report.limits;
    out += &format!(
        "limits      slowest call {:.2} ms of {:.0} ms; peak memory {:.2} MiB of {:.0} MiB; output cap {} bytes\n",
        limits.slowest_call_ms,
        limits.deadline_ms,
        mib(limits.peak_memory_bytes),
        mib(limits.memory_cap_bytes),
        limits.output_cap_bytes
    );
    match &report.refusal {
        None => out += "verdict     accepted: serve would take this plugin\n",
        Some(reason) => out += &format!("verdict     refused: {reason}\n"),
    }
    out
}
