//! `kamaji-telemetry manifests`: the YAML that installs the agent.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kamaji_telemetry::cluster::install::{self, ManifestOptions};

use super::{EventSource, GlobalArgs};

#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// The namespace of the agent, its Lease and its ConfigMap.
    #[arg(long, default_value = "kamaji-system")]
    namespace: String,

    /// Where the agent takes TenantControlPlane events from. With
    /// `webhook`, a ValidatingWebhookConfiguration is included.
    #[arg(long, value_enum, default_value_t = EventSource::Watch)]
    events: EventSource,

    /// The agent's container image.
    #[arg(long, value_name = "REF", default_value = concat!("ghcr.io/clastix/kamaji-telemetry:v", env!("CARGO_PKG_VERSION")))]
    image: String,
}

/// `--disable-telemetry` and `--plugin` are the global options: here they
/// are written into the manifests (the ConfigMap's `disabled: true`, the
/// agent's `--plugin`) instead of applying to this command.
pub fn run(global: &GlobalArgs, args: ManifestsArgs) -> anyhow::Result<ExitCode> {
    let options = ManifestOptions {
        namespace: args.namespace,
        disable_telemetry: global.disable_telemetry == Some(true),
        webhook: args.events == EventSource::Webhook,
        image: args.image,
        plugin: global.plugin.as_ref().map(ToString::to_string),
    };
    let text = install::render(&options).context("cannot write the manifests")?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
