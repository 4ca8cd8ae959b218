//! `kamaji-telemetry plugin describe`: what the plugin says it collects.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use kamaji_telemetry::plugin::bindings::Description;

use super::GlobalArgs;
use super::output::description_json;

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
    let description = global.load_plugin()?.describe()?;
    match args.output {
        DescribeFormat::Table => print!("{}", description_table(&description)),
        DescribeFormat::Json => println!("{}", description_json(&description)?),
        DescribeFormat::Markdown => print!("{}", description_markdown(&description)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A heading and one row per field, wrapped to the terminal's width.
fn description_table(description: &Description) -> String {
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
        "{} {} (wire schema {})\n{table}\n",
        description.name, description.version, description.wire_schema
    )
}

/// Pipes inside cells are escaped so that a meaning cannot break the table.
fn description_markdown(description: &Description) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = format!(
        "Plugin `{}` {}, wire schema `{}`:\n\n| field | route | example | meaning |\n|---|---|---|---|\n",
        description.name, description.version, description.wire_schema
    );
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
