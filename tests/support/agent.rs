//! `kamaji-telemetry serve` as a long-running child process: started on an
//! ephemeral loopback port, called over HTTP, signalled, and always killed
//! when the test ends, passed or failed.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::memory;

/// Long enough for a debug build to compile a plugin that is not cached yet.
const STARTUP: Duration = Duration::from_secs(120);

/// A running agent. Dropping it kills the process.
pub struct Agent {
    child: Option<Child>,
    address: SocketAddr,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// How an agent ended.
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Its peak resident set over its whole life.
    pub peak: memory::Peak,
}

impl Agent {
    /// Spawns `command` (a `serve` command with `--listen 127.0.0.1:0`) and
    /// waits for the line where it says where it listens.
    pub fn start(mut command: Command) -> Self {
        let mut child = memory::spawn(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let (stdout, stderr) = (Arc::default(), Arc::default());
        let (address_sender, address) = mpsc::channel();
        let readers = vec![
            collect(
                child.stdout.take().expect("stdout"),
                Arc::clone(&stdout),
                Some(address_sender),
            ),
            collect(
                child.stderr.take().expect("stderr"),
                Arc::clone(&stderr),
                None,
            ),
        ];
        let mut agent = Self {
            child: Some(child),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout,
            stderr,
            readers,
        };
        match address.recv_timeout(STARTUP) {
            Ok(address) => agent.address = address,
            Err(_) => panic!(
                "the agent did not start listening\nstdout:\n{}\nstderr:\n{}",
                agent.stdout(),
                agent.stderr()
            ),
        }
        agent
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The process id, to read its `/proc` entries.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the agent runs").id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout lock").clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Sends a signal, `libc::SIGHUP` say.
    pub fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("the agent runs");
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        // SAFETY: kill(2) with the pid of our own child, which has not been
        // reaped (we hold its `Child`), so the pid cannot have been reused.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal}) failed");
    }

    /// Sends SIGTERM and waits up to `limit` for the agent to exit.
    pub fn terminate(mut self, limit: Duration) -> Exit {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        let reaped = loop {
            if let Some(reaped) = memory::try_reap(self.child.as_ref().expect("the agent runs")) {
                break reaped;
            }
            // Failing here drops the agent, which kills it.
            assert!(
                started.elapsed() <= limit,
                "the agent did not exit within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Reaped: its pid may be anyone's next, so nothing may kill it.
        drop(self.child.take());
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Exit {
            status: reaped.status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            peak: reaped.peak,
        }
    }

    /// `GET /metrics`.
    pub fn metrics(&self) -> Metrics {
        let response = reqwest::blocking::get(self.url("/metrics")).expect("GET /metrics");
        assert_eq!(response.status(), 200, "GET /metrics");
        Metrics(response.text().expect("metrics text"))
    }

    /// `POST <path>` of a JSON body; the status and the body.
    pub fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> (u16, String) {
        let response = client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.into())
            .send()
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        let status = response.status().as_u16();
        (status, response.text().expect("response body"))
    }

    /// `GET <path>`: the status.
    pub fn get_status(&self, path: &str) -> u16 {
        self.get(path).0
    }

    /// `GET <path>`: the status and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = client()
            .get(self.url(path))
            .send()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status().as_u16();
        (status, response.text().expect("response body"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- agent stderr ---\n{}", self.stderr());
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Copies a pipe into `buffer` line by line; on stdout, reports the address
/// from the `listening on <scheme>://<address>` line.
fn collect(
    pipe: impl Read + Send + 'static,
    buffer: Arc<Mutex<String>>,
    address: Option<mpsc::Sender<SocketAddr>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            {
                let mut buffer = buffer.lock().expect("output lock");
                buffer.push_str(&line);
                buffer.push('\n');
            }
            // After the line is in the buffer, so that the test can read it.
            if let Some(sender) = &address
                && let Some(found) = line.strip_prefix("listening on ")
                && let Some((_, address)) = found.split_once("://")
                && let Ok(address) = address.trim().parse()
            {
                let _ = sender.send(address);
            }
        }
    })
}

/// A `GET /metrics` answer.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The value of one series, named as exposed (`name{label="v"}`). A
    /// series that is not there fails the test: the agent creates every
    /// series at start, so a missing one is a bug, never a zero.
    pub fn value(&self, series: &str) -> f64 {
        self.0
            .lines()
            .filter_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|value| value.trim().parse().expect("a number"))
            .next()
            .unwrap_or_else(|| panic!("no series {series} in the metrics:\n{}", self.0))
    }

    /// The value of one series, or `None` if it is not exposed: for the
    /// checks where a missing series is a failure, not a zero.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.0
            .lines()
            .filter_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|value| value.trim().parse().expect("a number"))
            .next()
    }

    /// Whether a series line starting with `prefix` exists.
    pub fn has(&self, prefix: &str) -> bool {
        self.0.lines().any(|line| line.starts_with(prefix))
    }
}

/// Polls `check` every 50 ms until it holds, or panics after `limit`.
pub fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
