//! The launcher reports a command's own peak memory, not the harness's.

use std::process::Command;

use kamaji_telemetry_bench::process;

const LAUNCHER: &str = env!("CARGO_BIN_EXE_kamaji-bench-launch");

#[test]
fn a_child_does_not_inherit_the_harness_peak() {
    // Touch 256 MiB, as the harness does with a 100k-TCP fleet.
    let ballast = vec![1_u8; 256 << 20];
    let exit = process::run(LAUNCHER.as_ref(), &Command::new("true")).expect("true runs");
    assert!(exit.peak_rss < 64 << 20, "{} bytes", exit.peak_rss);
    std::hint::black_box(&ballast);
}

#[test]
fn a_failed_run_says_why() {
    let mut command = Command::new("sh");
    command.args(["-c", "echo broken >&2; exit 3"]);
    let error = process::run(LAUNCHER.as_ref(), &command).expect_err("exit 3 fails");
    assert!(error.contains("broken") && error.contains('3'), "{error}");
}
