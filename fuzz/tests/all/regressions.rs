//! Replays every input kept in `fuzz/regressions/<target>/` through the check
//! its fuzz target runs, so that a crash once found and fixed stays fixed.
//!
//! A kept input is the file libFuzzer wrote (`fuzz/targets/artifacts/...`),
//! copied as it is: typed targets read it the way libFuzzer does, through
//! `Arbitrary::arbitrary_take_rest`.

use std::path::PathBuf;

use arbitrary::{Arbitrary, Unstructured};
use kamaji_telemetry_fuzz::{Case, CaseStrings, CopyingBody};

fn kept_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a readable input");
            (path, bytes)
        })
        .collect();
    inputs.sort();
    // An empty folder would make its replay pass on nothing.
    assert!(!inputs.is_empty(), "{}: no kept input", folder.display());
    inputs
}

#[test]
fn kube_decode_regressions() {
    for (path, bytes) in kept_inputs("kube_decode") {
        eprintln!("{}", path.display());
        kamaji_telemetry_fuzz::kube_decode(&bytes);
    }
}

#[test]
fn versions_regressions() {
    for (path, bytes) in kept_inputs("versions") {
        eprintln!("{}", path.display());
        kamaji_telemetry_fuzz::versions(&bytes);
    }
}

#[test]
fn pipeline_regressions() {
    for (path, bytes) in kept_inputs("pipeline") {
        eprintln!("{}", path.display());
        let case = Case::arbitrary_take_rest(Unstructured::new(&bytes))
            .unwrap_or_else(|error| panic!("{}: not a case: {error}", path.display()));
        kamaji_telemetry_fuzz::pipeline(&case);
    }
}

#[test]
fn leak_guard_regressions() {
    for (path, bytes) in kept_inputs("leak_guard") {
        eprintln!("{}", path.display());
        let (case, body) = <(Case, CopyingBody)>::arbitrary_take_rest(Unstructured::new(&bytes))
            .unwrap_or_else(|error| panic!("{}: not a case: {error}", path.display()));
        // As the fuzz target does (fuzz/targets/fuzz_targets/leak_guard.rs).
        let body = body.render(&CaseStrings::of(&case).identifying);
        kamaji_telemetry_fuzz::leak_guard(&case, &body);
    }
}
