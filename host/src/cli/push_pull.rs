//! `kamaji-telemetry plugin push` and `plugin pull`: plugins shipped like
//! images, in the CNCF layout for WebAssembly artifacts (see the library's
//! `plugin::oci`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kamaji_telemetry::plugin::OCI_SCHEME;
use kamaji_telemetry::plugin::oci::{ComponentSummary, Registry};
use kamaji_telemetry::plugin::source::parse_reference;
use oci_client::Reference;

use super::{GlobalArgs, block_on};

/// The world every plugin targets.
const TARGET_WORLD: &str = "kamaji:telemetry/telemetry-plugin";

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The plugin component.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Where to publish it: oci://REGISTRY/REPOSITORY:TAG.
    #[arg(value_name = "oci://REF", value_parser = reference)]
    reference: Reference,

    /// The author, recorded in the artifact's config.
    #[arg(long)]
    author: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The plugin: oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "oci://REF", value_parser = reference)]
    reference: Reference,

    /// Where to write the component.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

fn reference(input: &str) -> Result<Reference, String> {
    parse_reference(input).map_err(|error| error.to_string())
}

/// Publishes a component that passes the contract check; prints where,
/// pinned to its digest.
pub fn push(global: &GlobalArgs, args: PushArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read the plugin {}", args.file.display()))?;
    // A registry should only ever hold plugins this host can load.
    let plugin = global
        .plugin_runtime()?
        .load(&bytes)
        .with_context(|| format!("cannot load the plugin {}", args.file.display()))?;
    let summary = ComponentSummary {
        exports: plugin.exports().to_vec(),
        imports: plugin.imports().to_vec(),
        target: format!("{TARGET_WORLD}@{}", plugin.contract()),
        author: args.author,
    };
    let registry = Registry::new(&global.registry_options())?;
    let digest = block_on(registry.push(&args.reference, bytes, summary))??;
    println!(
        "pushed {OCI_SCHEME}{}",
        args.reference.clone_with_digest(digest)
    );
    Ok(ExitCode::SUCCESS)
}

/// Fetches a component from its registry (never from the cache), verified
/// against its digests.
pub fn pull(global: &GlobalArgs, args: PullArgs) -> anyhow::Result<ExitCode> {
    let registry = Registry::new(&global.registry_options())?;
    let pulled = block_on(registry.pull(&args.reference))??;
    std::fs::write(&args.output, &pulled.bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "pulled {OCI_SCHEME}{} to {}",
        args.reference.clone_with_digest(pulled.digest),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
