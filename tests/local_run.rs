//! `make run`: the main job on the embedded default plugin, end to end and
//! offline. It starts a receiver on loopback, has `kamaji-telemetry send`
//! deliver the payloads built from the sample inputs in `samples/`, and
//! prints what the receiver got, byte for byte.
//!
//! `make run` builds the host and names the binary in `KAMAJI_TELEMETRY_BIN`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use kamaji_telemetry_e2e::receiver::Receiver;
use kamaji_telemetry_e2e::workspace_root;

const BINARY_ENV: &str = "KAMAJI_TELEMETRY_BIN";

/// A made-up installation: the UID below is what `default/kubernetes` could have.
const INSTALLATION: [(&str, &str); 3] = [
    ("--cluster-uid", "6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3"),
    ("--kamaji-version", "v1.0.0"),
    ("--kubernetes-version", "v1.30.2-eks-5e0fdde"),
];

fn main() -> ExitCode {
    let Some(binary) = std::env::var_os(BINARY_ENV).map(PathBuf::from) else {
        eprintln!("{BINARY_ENV} must name the kamaji-telemetry binary: run `make run`");
        return ExitCode::FAILURE;
    };
    let samples = sample_files();
    let receiver = Receiver::start();
    println!("receiver listening on {}", receiver.url());
    println!(
        "sending the payloads built from {} sample files:",
        samples.len()
    );
    let mut send = Command::new(&binary);
    send.arg("send").arg("--endpoint").arg(receiver.url());
    for (flag, value) in INSTALLATION {
        send.arg(flag).arg(value);
    }
    let status = match send.args(&samples).status() {
        Ok(status) => status,
        Err(error) => {
            eprintln!("cannot run {}: {error}", binary.display());
            return ExitCode::FAILURE;
        }
    };
    print_received(&receiver);
    if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn sample_files() -> Vec<PathBuf> {
    let dir = workspace_root().join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "json" || ext == "yaml")
        })
        .collect();
    files.sort();
    files
}

fn print_received(receiver: &Receiver) {
    let requests = receiver.requests();
    println!("\nthe receiver got {} requests:", requests.len());
    for request in requests {
        println!(
            "\n{} {}  (content-type: {}, user-agent: {})\n{}",
            request.method,
            request.path,
            request.content_type.as_deref().unwrap_or("-"),
            request.user_agent.as_deref().unwrap_or("-"),
            request.body,
        );
    }
}
