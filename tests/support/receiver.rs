//! A real HTTP server on loopback that stands in for the telemetry backend:
//! it records every request and every accepted connection, and answers from a
//! script (200 once the script runs out), so tests can stage failures (a
//! [`seeded_script`] draws a long one), or at random and in real time
//! ([`Chaos`]), so a soak can meet every failure in any order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    pub body: String,
    pub at: Instant,
    /// What the receiver answered; `None` when it reset the connection instead.
    pub reply: Option<Reply>,
}

impl Received {
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// Answers only after `delay`, to outlast a client's timeout.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_string());
        self
    }
}

/// Random misbehaviour in real time, for soak tests. Each request gets an
/// answer drawn by weight from a seeded generator, so a failing run's
/// answers can be replayed from its seed (though not its timing); during an
/// outage every connection and request is reset.
#[derive(Debug, Clone)]
pub struct Chaos {
    pub seed: u64,
    /// Relative weights of the answers.
    pub weights: Vec<(Answer, u32)>,
    /// How long a [`Answer::Slow`] waits: longer than the client's timeout.
    pub slow: Duration,
    /// A 200 that would leave later than this after the request arrived
    /// becomes a 504: the client may have given up by then, and a stored
    /// payload that it sends again would be counted twice.
    pub late: Duration,
    /// An outage ends every period: its last `outage` is down.
    pub outage_period: Duration,
    pub outage: Duration,
}

/// One way to answer a request in [`Chaos`] mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// 500: final, the client must not retry.
    ServerError,
    /// 503: retryable.
    Unavailable,
    /// 429 with `Retry-After` of this many seconds.
    Throttled {
        retry_after: u8,
    },
    /// The connection is reset without an answer.
    Reset,
    /// 503, but only after [`Chaos::slow`]: never a stored 200, so that the
    /// client's retry cannot duplicate the payload.
    Slow,
}

/// What the receiver does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    Reply(Reply),
    /// The connection is reset without an answer.
    Reset,
}

impl Answer {
    /// What the receiver does for this answer; a slow one waits `slow`.
    fn action(self, slow: Duration) -> Action {
        let reply = match self {
            Answer::Ok => Reply::status(200),
            Answer::ServerError => Reply::status(500),
            Answer::Unavailable => Reply::status(503),
            Answer::Throttled { retry_after } => {
                Reply::status(429).retry_after(&retry_after.to_string())
            }
            Answer::Reset => return Action::Reset,
            Answer::Slow => Reply::status(503).delayed(slow),
        };
        Action::Reply(reply)
    }
}

/// `count` answers drawn by weight from a generator seeded with `seed`, in
/// the order the requests will get them: the same script for the same seed.
/// Every answer comes at once (a script has no [`Answer::Slow`]).
pub fn seeded_script(seed: u64, weights: &[(Answer, u32)], count: usize) -> Vec<Action> {
    assert!(
        weights.iter().all(|(answer, _)| *answer != Answer::Slow),
        "a script answers at once"
    );
    let mut rng = SplitMix64(seed);
    (0..count)
        .map(|_| draw(&mut rng, weights).action(Duration::ZERO))
        .collect()
}

/// One answer, drawn by weight.
fn draw(rng: &mut SplitMix64, weights: &[(Answer, u32)]) -> Answer {
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut pick = rng.next() % total.max(1);
    for (answer, weight) in weights {
        match pick.checked_sub(u64::from(*weight)) {
            Some(rest) => pick = rest,
            None => return *answer,
        }
    }
    Answer::Ok
}

/// The error that makes hyper drop a connection without answering.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset on purpose")
    }
}

impl std::error::Error for ResetConnection {}

/// SplitMix64: a few lines instead of a dependency, and reproducible by seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

struct ChaosState {
    chaos: Chaos,
    rng: Mutex<SplitMix64>,
    started: Instant,
}

impl ChaosState {
    fn in_outage(&self) -> bool {
        let period = self.chaos.outage_period.as_nanos().max(1);
        let phase = self.started.elapsed().as_nanos() % period;
        phase >= period.saturating_sub(self.chaos.outage.as_nanos())
    }

    fn action(&self, arrived: Instant) -> Action {
        if self.in_outage() {
            return Action::Reset;
        }
        let answer = draw(&mut self.rng.lock().expect("rng lock"), &self.chaos.weights);
        match answer {
            Answer::Ok if arrived.elapsed() > self.chaos.late => Action::Reply(Reply::status(504)),
            answer => answer.action(self.chaos.slow),
        }
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Action>>,
    chaos: Option<ChaosState>,
    /// Every close a reset (RST), as a crashed backend's is: for the
    /// receivers that reset connections on purpose.
    hard_close: bool,
    connections: AtomicUsize,
    /// Connections reset as they were accepted, during an outage.
    outage_resets: AtomicUsize,
    /// Requests being answered now, and the most there ever were.
    active: AtomicUsize,
    peak: AtomicUsize,
}

impl State {
    fn action(&self, arrived: Instant) -> Action {
        match &self.chaos {
            Some(chaos) => chaos.action(arrived),
            None => self
                .script
                .lock()
                .expect("script lock")
                .pop_front()
                .unwrap_or(Action::Reply(Reply::status(200))),
        }
    }
}

/// The running receiver; it stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    /// Starts on 127.0.0.1 with an ephemeral port, answering 200 to everything.
    pub fn start() -> Self {
        Self::scripted(Vec::new())
    }

    /// Starts with a script of replies, used in order, then 200s.
    pub fn scripted(script: Vec<Reply>) -> Self {
        Self::following(script.into_iter().map(Action::Reply).collect())
    }

    /// Starts with a script of replies and resets, used in order (request
    /// `k` gets `script[k]`), then 200s.
    pub fn following(script: Vec<Action>) -> Self {
        let hard_close = script.iter().any(|action| matches!(action, Action::Reset));
        Self::with_state(State {
            script: Mutex::new(script.into()),
            hard_close,
            ..State::default()
        })
    }

    /// Starts misbehaving at random from now on, as `chaos` says.
    pub fn chaotic(chaos: Chaos) -> Self {
        let rng = Mutex::new(SplitMix64(chaos.seed));
        Self::with_state(State {
            chaos: Some(ChaosState {
                chaos,
                rng,
                started: Instant::now(),
            }),
            hard_close: true,
            ..State::default()
        })
    }

    fn with_state(state: State) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let state = Arc::new(state);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        runtime.spawn(accept_loop(listener, state.clone()));
        Self {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().expect("requests lock").clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Connections reset as soon as accepted, in [`Chaos`] outages.
    pub fn outage_resets(&self) -> usize {
        self.state.outage_resets.load(Ordering::SeqCst)
    }

    /// The most requests the receiver was answering at once.
    pub fn peak_concurrency(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        state.connections.fetch_add(1, Ordering::SeqCst);
        if state.hard_close {
            let _ = stream.set_zero_linger();
        }
        if state.chaos.as_ref().is_some_and(ChaosState::in_outage) {
            state.outage_resets.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| counted(request, state.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// [`answer`], counted in `active` until the answer is built: a client
/// cannot start its next request on the connection before then.
async fn counted(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let active = state.active.fetch_add(1, Ordering::SeqCst) + 1;
    state.peak.fetch_max(active, Ordering::SeqCst);
    let answered = answer(request, Arc::clone(&state)).await;
    state.active.fetch_sub(1, Ordering::SeqCst);
    answered
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let received = Received {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body: String::new(),
        at: Instant::now(),
        reply: None,
    };
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let action = state.action(received.at);
    let reply = match &action {
        Action::Reply(reply) => Some(reply.clone()),
        Action::Reset => None,
    };
    let received = Received {
        body: String::from_utf8_lossy(&body).into_owned(),
        reply,
        ..received
    };
    state.requests.lock().expect("requests lock").push(received);
    let Action::Reply(reply) = action else {
        return Err(ResetConnection);
    };
    // Even a zero sleep waits for the timer's next millisecond tick, which
    // would cap the receiver at about a thousand requests a second.
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(reply.status);
    if let Some(retry_after) = &reply.retry_after {
        response = response.header("retry-after", retry_after);
    }
    Ok(response
        .body(Full::new(Bytes::new()))
        .expect("valid response"))
}
