//! `kamaji-telemetry plugin describe`: what the plugin says it collects.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use kamaji_telemetry::model::{Description, InputFields};
use kamaji_telemetry::plugin::ContractVersion;

use super::GlobalArgs;
use super::output::{description_json, reads_text, routes_text};

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = DescribeFormat::Table)]
    output: DescribeFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DescribeFormat {
    /// A table for the terminal.
    Table,
    /// One JSON object.
    Json,
    /// A Markdown table, as the README shows it.
    Markdown,
}

pub fn run(global: &GlobalArgs, args: DescribeArgs) -> anyhow::Result<ExitCode> {
    let plugin = global.load_plugin()?;
    let (contract, description) = (plugin.contract(), plugin.description());
    match args.output {
        DescribeFormat::Table => print!("{}", description_table(contract, description)),
        DescribeFormat::Json => println!("{}", description_json(contract, description)?),
        DescribeFormat::Markdown => print!("{}", description_markdown(contract, description)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A heading, what it reads and where it sends, and one row per field,
/// wrapped to the terminal's width.
fn description_table(contract: ContractVersion, description: &Description) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["FIELD", "ROUTE", "EXAMPLE", "MEANING"]);
    for field in &description.fields {
        table.add_row([
            field.name.as_str(),
            field.route.as_str(),
            field.example.as_str(),
            field.meaning.as_str(),
        ]);
    }
    format!(
        "{} {} (contract {contract}, wire schema {})\nreads:  {}\nroutes: {}\n{table}\n",
        description.name,
        description.version,
        description.wire_schema,
        reads_text(description),
        routes_text(description.routes.as_deref()),
    )
}

/// What it can see, where it sends, then what it sends. Pipes inside cells
/// are escaped so that a meaning cannot break the table.
fn description_markdown(contract: ContractVersion, description: &Description) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = format!(
        "Plugin `{}` {}, contract {contract}, wire schema `{}`. It may send to: {}.\n\n",
        description.name,
        description.version,
        description.wire_schema,
        routes_text(description.routes.as_deref()),
    );
    out.push_str("What it is shown of the cluster (the host hands it nothing else):\n\n| input fields | shown |\n|---|---|\n");
    for (group, name, fields) in InputFields::GROUPS {
        let shown = if description.reads.contains(group) {
            "yes"
        } else {
            "no"
        };
        out.push_str(&format!("| `{name}`: {fields} | {shown} |\n"));
    }
    out.push_str("\nWhat it sends:\n\n| field | route | example | meaning |\n|---|---|---|---|\n");
    for field in &description.fields {
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} |\n",
            cell(&field.name),
            field.route.as_str(),
            cell(&field.example),
            cell(&field.meaning)
        ));
    }
    out
}
