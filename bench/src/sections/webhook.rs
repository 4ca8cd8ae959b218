//! Section 5: the agent (`kamaji-telemetry serve`): how fast the webhook
//! answers under a steady load, and how much memory it holds when idle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kamaji_telemetry_e2e::host::WEBHOOK_SERVE;
use kamaji_telemetry_e2e::receiver::Receiver;

use crate::inputs::{self, MIXED};
use crate::process::memory_status;
use crate::report::{Row, Section, Target, Unit};
use crate::stats::percentile;
use crate::{Context, progress};

/// Webhook requests per second: far above what the API server sends for TCP
/// changes, and far below what saturates the machine, so the latency is the
/// answer's own and not a queue's.
const RATE: f64 = 200.0;

/// What an idle agent holds, in bytes.
#[derive(Debug, Clone)]
pub struct IdleMemory {
    /// The resident set, sampled while idle.
    pub resident: Vec<f64>,
    /// The peak resident set since start (VmHWM), read at the end of the idle time.
    pub peak: f64,
}

pub fn measure(context: &Context) -> (Section, Result<IdleMemory, String>) {
    progress("webhook: starting serve");
    let mut section = Section::new("5. Webhook answer latency (serve)");
    let receiver = Receiver::start();
    let measured = Agent::start(context, &receiver.url()).and_then(|agent| {
        let idle = agent.idle_memory(context);
        progress("webhook: steady load");
        let latency = agent.latency(context);
        agent.stop();
        Ok((idle, latency?))
    });
    match measured {
        Ok((idle, (p50, p99))) => {
            section.row(Row::from_samples("webhook answer, p50", &p50, Unit::Micros));
            section.row(
                Row::from_samples("webhook answer, p99", &p99, Unit::Micros)
                    .target(Target::AtMost(1e-3)),
            );
            section.note(format!(
                "{RATE:.0} AdmissionReviews/s (mixed CREATE/UPDATE/DELETE) over one keep-alive \
                 connection, from writing the request to reading the whole answer; each sample \
                 is the percentile of one {}-s window; the agent delivers the payloads to a \
                 loopback receiver meanwhile",
                window(context).as_secs()
            ));
            (section, idle)
        }
        Err(why) => {
            let why = format!("serve not available ({why})");
            for (figure, target) in [
                ("webhook answer, p50", None),
                ("webhook answer, p99", Some(Target::AtMost(1e-3))),
            ] {
                let row = Row::not_measured(figure, why.clone(), Unit::Micros);
                section.row(target.map_or(row.clone(), |t| row.target(t)));
            }
            (section, Err(why))
        }
    }
}

fn window(context: &Context) -> Duration {
    Duration::from_secs(if context.quick { 1 } else { 2 })
}

/// A running `kamaji-telemetry serve` on a loopback port.
struct Agent {
    child: Child,
    addr: SocketAddr,
}

impl Agent {
    fn start(context: &Context, endpoint: &str) -> Result<Self, String> {
        let (serve, options) = WEBHOOK_SERVE.split_first().expect("serve and its options");
        let mut command = context.host(serve, Some(&context.warm_cache()));
        command
            .args(options)
            .args(["--endpoint", endpoint])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start serve: {e}"))?;
        match listening_address(&mut child) {
            Ok(addr) => {
                let agent = Self { child, addr };
                agent.wait_ready()?;
                Ok(agent)
            }
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(error)
            }
        }
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready =
                Connection::open(self.addr).and_then(|mut c| c.request("GET", "/readyz", b""));
            if matches!(ready, Ok(200)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("serve never became ready".into())
    }

    /// Samples the resident set over a few idle seconds.
    fn idle_memory(&self, context: &Context) -> Result<IdleMemory, String> {
        let pid = self.child.id();
        let samples = if context.quick { 5 } else { 20 };
        let mut resident = Vec::new();
        for _ in 0..samples {
            std::thread::sleep(Duration::from_millis(100));
            resident.extend(memory_status(pid, "VmRSS").map(|b| b as f64));
        }
        let peak = memory_status(pid, "VmHWM").ok_or("cannot read the agent's memory")? as f64;
        Ok(IdleMemory { resident, peak })
    }

    /// p50 and p99 of each window of a steady load.
    fn latency(&self, context: &Context) -> Result<(Vec<f64>, Vec<f64>), String> {
        let stream = inputs::admission_stream(200, MIXED);
        let bodies: Vec<&[u8]> = stream
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut connection = Connection::open(self.addr).map_err(|e| e.to_string())?;
        let per_window = (RATE * window(context).as_secs_f64()) as usize;
        // The first window warms the connection and the agent up, and is dropped.
        let windows = context.runs(10) + 1;
        let period = Duration::from_secs_f64(1.0 / RATE);
        let mut next = Instant::now();
        let (mut p50, mut p99) = (Vec::new(), Vec::new());
        for window in 0..windows {
            let mut latencies = Vec::with_capacity(per_window);
            for i in 0..per_window {
                next += period;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                let start = Instant::now();
                let status = connection
                    .request("POST", "/telemetry", bodies[i % bodies.len()])
                    .map_err(|e| format!("webhook request failed: {e}"))?;
                if status != 200 {
                    return Err(format!("the webhook answered {status}"));
                }
                latencies.push(start.elapsed().as_secs_f64());
            }
            if window > 0 {
                latencies.sort_by(f64::total_cmp);
                p50.push(percentile(&latencies, 50.0));
                p99.push(percentile(&latencies, 99.0));
            }
        }
        Ok((p50, p99))
    }

    /// SIGTERM, as Kubernetes stops a pod; killed if it outlasts its grace.
    fn stop(mut self) {
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: signals the agent this harness started and has not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `listening on http://ADDR`, the line serve prints once it listens.
fn listening_address(child: &mut Child) -> Result<SocketAddr, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = sender.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .map_err(|_| match child.try_wait() {
                Ok(Some(status)) => format!("`serve` exited at once ({status})"),
                _ => "`serve` printed no listening address".to_string(),
            })?;
        if let Some(addr) = line.strip_prefix("listening on http://") {
            return addr
                .trim()
                .parse()
                .map_err(|e| format!("bad address {addr:?}: {e}"));
        }
    }
}

/// A minimal HTTP/1.1 keep-alive client: enough for the agent's answers,
/// which carry a Content-Length, and cheap enough not to be what is measured.
struct Connection {
    stream: BufReader<TcpStream>,
    head: String,
}

impl Connection {
    fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            stream: BufReader::new(stream),
            head: String::new(),
        })
    }

    /// Sends one request and reads the whole answer; returns its status.
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<u16> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.stream.get_mut().write_all(&request)?;
        let (status, length) = self.read_head()?;
        std::io::copy(&mut (&mut self.stream).take(length), &mut std::io::sink())?;
        Ok(status)
    }

    /// The status and Content-Length of an answer.
    fn read_head(&mut self) -> std::io::Result<(u16, u64)> {
        let invalid =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let mut status = None;
        let mut length = 0;
        loop {
            self.head.clear();
            if self.stream.read_line(&mut self.head)? == 0 {
                return Err(invalid("connection closed"));
            }
            let line = self.head.trim_end();
            if line.is_empty() {
                break;
            }
            if status.is_none() {
                status = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|code| code.parse().ok());
            } else if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("bad Content-Length"))?;
            }
        }
        Ok((status.ok_or_else(|| invalid("no status line"))?, length))
    }
}
