//! `make bench`: measures everything and prints one table on stdout (progress
//! goes to stderr). The table is also written to `target/bench/report.md`.

use std::process::ExitCode;
use std::time::Instant;

use kamaji_telemetry_bench::{Context, progress, report, run_all};

fn main() -> ExitCode {
    let context = match Context::from_env(env!("CARGO_BIN_EXE_kamaji-bench-launch").as_ref()) {
        Ok(context) => context,
        Err(error) => {
            eprintln!("bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let table = report::render(&run_all(&context));
    let heading = format!(
        "kamaji-telemetry benchmarks{}, measured in {:.0} s\n\n",
        if context.quick {
            " (quick run: fewer rounds)"
        } else {
            ""
        },
        start.elapsed().as_secs_f64()
    );
    print!("{heading}{table}");
    let saved = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/report.md");
    if let Err(error) = std::fs::create_dir_all(saved.parent().unwrap_or(&saved))
        .and_then(|()| std::fs::write(&saved, format!("{heading}{table}")))
    {
        progress(&format!("could not save {}: {error}", saved.display()));
    }
    ExitCode::SUCCESS
}
