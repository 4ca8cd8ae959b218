//! `kamaji-bench-launch PROGRAM [ARG]...`: runs one measured command for the
//! benchmark harness and reports its wall time and its own peak resident set
//! (see `kamaji_telemetry_bench::process::run` for why it exists).

use std::process::ExitCode;

fn main() -> ExitCode {
    kamaji_telemetry_bench::process::launch(std::env::args_os().skip(1))
}
