//! Running the `kamaji-telemetry` binary as a user would, in a clean environment.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::workspace_root;

/// Environment variables that change what the binary does; tests start
/// without them, whatever the machine running them has set.
const AMBIENT: [&str; 9] = [
    "DO_NOT_TRACK",
    "KAMAJI_TELEMETRY_DISABLED",
    "KAMAJI_TELEMETRY_PLUGIN",
    "KAMAJI_TELEMETRY_ENDPOINT",
    "KAMAJI_TELEMETRY_CLUSTER_UID",
    "KAMAJI_TELEMETRY_KAMAJI_VERSION",
    "KAMAJI_TELEMETRY_KUBERNETES_VERSION",
    "HTTPS_PROXY",
    "HTTP_PROXY",
];

/// The installation every test uses.
pub const CLUSTER_UID: &str = "6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3";

/// A command for the host binary `binary`: clean environment, a shared
/// precompiled cache under `target/`, and the test installation.
pub fn command_for(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    for name in AMBIENT {
        command.env_remove(name);
        command.env_remove(name.to_lowercase());
    }
    command
        .env(
            "KAMAJI_TELEMETRY_CACHE_DIR",
            workspace_root().join("target/e2e-cache"),
        )
        .env("KAMAJI_TELEMETRY_CLUSTER_UID", CLUSTER_UID)
        .env("KAMAJI_TELEMETRY_KAMAJI_VERSION", "v1.0.0")
        .env("KAMAJI_TELEMETRY_KUBERNETES_VERSION", "v1.30.2-eks-5e0fdde");
    command
}

/// What a run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `command` with `stdin` as its standard input.
pub fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the host binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child
        .wait_with_output()
        .expect("wait for the host binary")
        .into()
}

/// Runs `command` to completion.
pub fn run(mut command: Command) -> Run {
    command.output().expect("run the host binary").into()
}

/// `serve` as most tests run it: AdmissionReviews by webhook, fleets by POST
/// (no cluster, so no Kamaji controller to follow), on an ephemeral
/// loopback port. `--endpoint` follows.
pub const WEBHOOK_SERVE: [&str; 9] = [
    "serve",
    "--events",
    "webhook",
    "--fleet-from",
    "post",
    "--kamaji-deployment",
    "none",
    "--listen",
    "127.0.0.1:0",
];

/// A file under `samples/`.
pub fn sample(name: &str) -> std::path::PathBuf {
    workspace_root().join("samples").join(name)
}
