//! `kamaji-bench-inputs DIR`: writes the generated inputs that section 7 of
//! `make bench` reads (the 100k-TCP List and the 20k AdmissionReviews), so
//! that `make profile` runs the profiler on the very same files.

use std::path::PathBuf;
use std::process::ExitCode;

use kamaji_telemetry_bench::inputs::{self, MIXED};
use kamaji_telemetry_bench::sections::go_anchor::{ADMISSIONS, FLEET};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: kamaji-bench-inputs DIR");
        return ExitCode::FAILURE;
    };
    let files = [
        ("fleet.json", inputs::fleet_list(FLEET)),
        (
            "admissions.json",
            inputs::admission_stream(ADMISSIONS, MIXED),
        ),
    ];
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Err(error) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, bytes))
        {
            eprintln!("error: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
