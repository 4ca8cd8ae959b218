//! Transport tests against a real HTTP server on loopback (axum on
//! 127.0.0.1:0). No traffic leaves the machine, provided no HTTP(S)_PROXY
//! in the environment captures loopback traffic (the transport honours it).
//!
//! Time assertions only have lower bounds plus generous upper bounds: the
//! machine running them may be slow and busy.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::serve::ListenerExt;
use kamaji_telemetry::transport::{
    ConfigError, Delivery, DeliveryQueue, Dropped, Failure, QueueError, RetryPolicy, Transport,
    TransportConfig,
};

const UA: &str = "kamaji-telemetry/0.1.0 plugin/kamaji-telemetry-default/0.1.0";
const ROUTES: [&str; 4] = ["stats", "create", "update", "delete"];
const LIMIT: usize = 4096;
/// Longer than any test: a request that never gets its answer.
const HANG: Duration = Duration::from_secs(120);
/// One delivery at a time: in order, over one connection.
const SEQUENTIAL: NonZeroUsize = NonZeroUsize::MIN;
/// Deliveries at once in the concurrency tests.
const FOUR: NonZeroUsize = NonZeroUsize::new(4).unwrap();

// ---------------------------------------------------------------- server --

#[derive(Clone)]
struct Reply {
    status: u16,
    retry_after: Option<&'static str>,
    body: Vec<u8>,
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        retry_after: None,
        body: Vec::new(),
        delay: Duration::ZERO,
    }
}

impl Reply {
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    fn retry_after(mut self, value: &'static str) -> Self {
        self.retry_after = Some(value);
        self
    }
    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    user_agent: Option<String>,
    body: Vec<u8>,
    at: Instant,
}

struct ServerState {
    /// Request n gets `script[n]`; the last entry repeats.
    script: Vec<Reply>,
    seen: Mutex<Vec<Seen>>,
    /// When set, each request is held until this many are held together.
    gate: Option<tokio::sync::Barrier>,
    /// Requests being handled now, and the most there ever were.
    active: AtomicUsize,
    peak: AtomicUsize,
}

struct Server {
    addr: SocketAddr,
    state: Arc<ServerState>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    async fn start(script: Vec<Reply>) -> Self {
        Self::with_gate(script, None).await
    }

    /// Answers no request before `n` of them are at the server at once.
    async fn gated(script: Vec<Reply>, n: usize) -> Self {
        Self::with_gate(script, Some(tokio::sync::Barrier::new(n))).await
    }

    async fn with_gate(script: Vec<Reply>, gate: Option<tokio::sync::Barrier>) -> Self {
        assert!(!script.is_empty());
        let state = Arc::new(ServerState {
            script,
            seen: Mutex::default(),
            gate,
            active: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Counts accepted TCP connections, to check connection reuse.
        let listener = listener.tap_io(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            state,
            connections,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// The most requests the server was handling at once.
    fn peak(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let active = state.active.fetch_add(1, Ordering::SeqCst) + 1;
    state.peak.fetch_max(active, Ordering::SeqCst);
    let response = answer(&state, request).await;
    // Before the response leaves: the client cannot start its next request
    // while this one still counts as active.
    state.active.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn answer(state: &ServerState, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header = |name| {
        parts
            .headers
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        content_type: header(header::CONTENT_TYPE),
        user_agent: header(header::USER_AGENT),
        body: axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap()
            .to_vec(),
        at: Instant::now(),
    };
    let index = {
        let mut log = state.seen.lock().unwrap();
        log.push(seen);
        log.len() - 1
    };
    if let Some(gate) = &state.gate {
        gate.wait().await;
    }
    let reply = state.script[index.min(state.script.len() - 1)].clone();
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    if let Some(value) = reply.retry_after {
        response = response.header(header::RETRY_AFTER, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

// --------------------------------------------------------------- helpers --

/// Small backoff so that retry tests take milliseconds, not minutes.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_interval: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(2),
    }
}

fn config(endpoint: String) -> TransportConfig {
    let mut config = TransportConfig::new(UA);
    config.endpoint = endpoint;
    config.retry = fast_retry();
    config.response_body_limit = LIMIT;
    config
}

fn transport(server: &Server) -> Transport {
    Transport::new(config(server.url())).unwrap()
}

fn payload(route: &str, n: usize) -> Vec<u8> {
    format!(r#"{{"route":"{route}","n":{n},"kamaji_version":"v1.0.0"}}"#).into_bytes()
}

/// Polls `condition` until it holds or `timeout` passes.
async fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// Fails (rather than hangs) if a delivery does not end in 30 s: every
/// retry loop must stop within its budget.
async fn bounded(delivery: impl Future<Output = Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(30), delivery)
        .await
        .expect("the delivery must end within its retry budget")
}

fn soon(after: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + after
}

// ---------------------------------------------------------- direct sends --

#[tokio::test]
async fn every_route_gets_exactly_the_body_and_headers() {
    let server = Server::start(vec![reply(200)]).await;
    let transport = transport(&server);
    for (n, route) in ROUTES.iter().enumerate() {
        let delivery = transport.send(route, &payload(route, n)).await;
        assert_eq!(delivery, Delivery::Sent { attempts: 1 }, "{route}");
    }
    let seen = server.seen();
    assert_eq!(seen.len(), ROUTES.len());
    for ((n, route), request) in ROUTES.iter().enumerate().zip(&seen) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, format!("/{route}"));
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.user_agent.as_deref(), Some(UA));
        assert_eq!(request.body, payload(route, n));
    }
    let stats = transport.stats().snapshot();
    assert_eq!((stats.sent, stats.retried, stats.rejected), (4, 0, 0));
}

#[tokio::test]
async fn endpoint_path_prefix_is_kept() {
    let server = Server::start(vec![reply(200)]).await;
    for base in ["/kamaji", "/kamaji/"] {
        let transport = Transport::new(config(format!("{}{base}", server.url()))).unwrap();
        let delivery = bounded(transport.send("stats", b"{}")).await;
        assert_eq!(delivery, Delivery::Sent { attempts: 1 });
    }
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/kamaji/stats", "/kamaji/stats"]);
}

#[tokio::test]
async fn unavailable_then_ok_is_retried_and_delivered() {
    let server = Server::start(vec![reply(503), reply(502), reply(200)]).await;
    let transport = transport(&server);
    let delivery = transport.send("stats", b"{\"uuid\":\"x\"}").await;
    assert_eq!(delivery, Delivery::Sent { attempts: 3 });
    assert_eq!(delivery.retries(), 2);
    assert_eq!(server.requests(), 3);
    assert!(server.seen().iter().all(|s| s.body == b"{\"uuid\":\"x\"}"));
    let stats = transport.stats().snapshot();
    assert_eq!((stats.sent, stats.retried, stats.failed), (1, 2, 0));
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = Server::start(vec![reply(429).retry_after("1"), reply(200)]).await;
    let transport = transport(&server);
    let delivery = transport.send("create", b"{}").await;
    assert_eq!(delivery, Delivery::Sent { attempts: 2 });
    let seen = server.seen();
    let gap = seen[1].at.duration_since(seen[0].at);
    // The backoff alone would be at most 20 ms: the wait came from Retry-After.
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(30), "retried after {gap:?}");
}

#[tokio::test]
async fn retry_after_past_the_budget_gives_up_at_once() {
    let server = Server::start(vec![reply(503).retry_after("120").body("busy")]).await;
    let transport = transport(&server);
    let started = Instant::now();
    let delivery = bounded(transport.send("stats", b"{}")).await;
    let Delivery::GaveUp {
        attempts,
        last_error,
        ..
    } = delivery
    else {
        panic!("expected GaveUp, got {delivery:?}");
    };
    assert_eq!(attempts, 1);
    assert_eq!(
        last_error,
        Failure::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: "busy".into()
        }
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let server = Server::start(vec![reply(400).body("uuid is required"), reply(200)]).await;
    let transport = transport(&server);
    let delivery = bounded(transport.send("stats", b"{}")).await;
    assert_eq!(
        delivery,
        Delivery::Rejected {
            attempts: 1,
            status: StatusCode::BAD_REQUEST,
            detail: "uuid is required".into()
        }
    );
    // `send` has returned: it makes no request after that, so the count is final.
    assert_eq!(server.requests(), 1);
    let stats = transport.stats().snapshot();
    assert_eq!((stats.rejected, stats.retried, stats.sent), (1, 0, 0));
}

#[tokio::test]
async fn server_error_500_is_not_retried() {
    let server = Server::start(vec![reply(500).body("cannot decode"), reply(200)]).await;
    let transport = transport(&server);
    let delivery = transport.send("update", b"not json").await;
    assert!(
        matches!(
            &delivery,
            Delivery::Rejected { attempts: 1, status, detail }
                if *status == StatusCode::INTERNAL_SERVER_ERROR && detail == "cannot decode"
        ),
        "{delivery:?}"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn other_final_statuses_are_not_retried() {
    for status in [301, 401, 403, 404, 413, 501, 505] {
        let server = Server::start(vec![reply(status), reply(200)]).await;
        let delivery = transport(&server).send("delete", b"{}").await;
        assert!(
            matches!(&delivery, Delivery::Rejected { attempts: 1, status: s, .. } if s.as_u16() == status),
            "{status}: {delivery:?}"
        );
        assert_eq!(server.requests(), 1, "{status}");
    }
}

#[tokio::test]
async fn server_down_gives_up_within_the_budget() {
    // A port that was just free: nothing listens there now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let transport = Transport::new(config(format!("http://{addr}"))).unwrap();
    let started = Instant::now();
    let delivery = bounded(transport.send("stats", b"{}")).await;
    let took = started.elapsed();
    let Delivery::GaveUp {
        attempts,
        elapsed,
        last_error,
    } = &delivery
    else {
        panic!("expected GaveUp, got {delivery:?}");
    };
    assert!(*attempts > 1, "connection errors are retried: {delivery:?}");
    let Failure::Connection(message) = last_error else {
        panic!("expected a connection failure, got {last_error:?}");
    };
    assert!(
        message.to_lowercase().contains("refused") || message.contains("connect"),
        "unclear error: {message}"
    );
    assert!(message.contains(&addr.to_string()), "{message}");
    // No retry starts after the 2 s budget; one attempt may end just past it.
    assert!(*elapsed <= Duration::from_secs(3), "{elapsed:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let stats = transport.stats().snapshot();
    assert_eq!(stats.failed, 1);
    assert_eq!(stats.retried, u64::from(*attempts - 1));
}

#[tokio::test]
async fn timeout_is_retried() {
    let server = Server::start(vec![reply(200).after(Duration::from_secs(5)), reply(200)]).await;
    let mut config = config(server.url());
    config.timeout = Duration::from_millis(300);
    let transport = Transport::new(config).unwrap();
    let delivery = bounded(transport.send("stats", b"{}")).await;
    assert_eq!(delivery, Delivery::Sent { attempts: 2 });
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn timeout_every_time_gives_up_with_a_timeout() {
    let server = Server::start(vec![reply(200).after(HANG)]).await;
    let mut config = config(server.url());
    config.timeout = Duration::from_millis(200);
    let transport = Transport::new(config).unwrap();
    let delivery = bounded(transport.send("stats", b"{}")).await;
    assert!(
        matches!(
            &delivery,
            Delivery::GaveUp { last_error: Failure::Timeout(_), attempts, .. } if *attempts > 1
        ),
        "{delivery:?}"
    );
}

#[tokio::test]
async fn response_body_read_is_bounded() {
    let huge = vec![b'x'; 10 * 1024 * 1024];
    let server = Server::start(vec![
        reply(500).body(huge.clone()),
        reply(200).body(huge),
        reply(200),
    ])
    .await;
    let transport = transport(&server);
    let delivery = bounded(transport.send("stats", b"{}")).await;
    let Delivery::Rejected { detail, .. } = &delivery else {
        panic!("expected Rejected, got {delivery:?}");
    };
    assert_eq!(detail.len(), LIMIT);
    assert!(detail.bytes().all(|b| b == b'x'));
    // A huge success body is not read either, and the client goes on working.
    assert_eq!(
        transport.send("stats", b"{}").await,
        Delivery::Sent { attempts: 1 }
    );
    assert_eq!(
        transport.send("stats", b"{}").await,
        Delivery::Sent { attempts: 1 }
    );
}

/// A server that answers 500 with a body that never ends.
async fn endless_body_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer_endlessly(socket));
        }
    });
    addr
}

/// Writes chunks until the client hangs up (the write error ends it).
async fn answer_endlessly(mut socket: tokio::net::TcpStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Answer once the request head is in; its body does not matter.
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = socket.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let head = "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n";
    socket.write_all(head.as_bytes()).await?;
    let chunk = format!("{:x}\r\n{}\r\n", 8192, "y".repeat(8192));
    loop {
        socket.write_all(chunk.as_bytes()).await?;
    }
}

#[tokio::test]
async fn endless_response_body_is_cut_at_the_limit() {
    let addr = endless_body_server().await;
    let mut config = config(format!("http://{addr}"));
    // Long enough that only stopping at the limit can end the read in time.
    config.timeout = Duration::from_secs(60);
    let transport = Transport::new(config).unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(20), transport.send("stats", b"{}"))
        .await
        .expect("reading stopped at the limit");
    let Delivery::Rejected { status, detail, .. } = &delivery else {
        panic!("expected Rejected, got {delivery:?}");
    };
    assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(detail.len(), LIMIT);
    assert!(detail.bytes().all(|b| b == b'y'));
}

#[tokio::test]
async fn response_detail_is_made_printable() {
    let server = Server::start(vec![reply(400).body("bad\n\u{1b}[31mfield\r\n")]).await;
    let delivery = transport(&server).send("stats", b"{}").await;
    let Delivery::Rejected { detail, .. } = delivery else {
        panic!("expected Rejected, got {delivery:?}");
    };
    assert_eq!(detail, "bad  [31mfield");
}

// ----------------------------------------------------------------- queue --

#[tokio::test]
async fn queue_delivers_in_order_over_one_connection() {
    let server = Server::start(vec![reply(200)]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 16, SEQUENTIAL).unwrap();
    let sent: Vec<(&str, Vec<u8>)> = (0..8)
        .map(|n| (ROUTES[n % 4], payload(ROUTES[n % 4], n)))
        .collect();
    for (route, body) in &sent {
        queue.try_enqueue(route, body.clone()).unwrap();
    }
    let report = queue.flush(soon(Duration::from_secs(20))).await;
    assert_eq!(report.left, 0);
    assert_eq!((report.stats.enqueued, report.stats.sent), (8, 8));
    let seen: Vec<(String, Vec<u8>)> = server
        .seen()
        .into_iter()
        .map(|s| (s.path, s.body))
        .collect();
    let expected: Vec<(String, Vec<u8>)> = sent
        .into_iter()
        .map(|(route, body)| (format!("/{route}"), body))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    let report = queue.close(soon(Duration::from_secs(5))).await;
    assert_eq!(report.left, 0);
    assert_eq!(report.stats.left_at_shutdown, 0);
}

#[tokio::test]
async fn full_queue_drops_counts_and_never_blocks() {
    // Every request hangs: nothing leaves the queue during the test.
    let server = Server::start(vec![reply(200).after(HANG)]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 2, SEQUENTIAL).unwrap();
    let started = Instant::now();
    let verdicts: Vec<Result<(), Dropped>> = (0..1_000)
        .map(|n| queue.try_enqueue("stats", payload("stats", n)))
        .collect();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "enqueue blocked: {took:?}");
    let accepted = verdicts.iter().filter(|v| v.is_ok()).count();
    // Two wait in the queue; the worker may already hold a third.
    assert!((2..=3).contains(&accepted), "{accepted}");
    assert!(
        verdicts
            .iter()
            .filter_map(|v| v.err())
            .all(|e| e == Dropped::QueueFull)
    );
    let stats = queue.stats();
    assert_eq!(stats.enqueued, accepted as u64);
    assert_eq!(stats.dropped_queue_full, (1_000 - accepted) as u64);
    let report = queue.close(soon(Duration::from_millis(300))).await;
    assert_eq!(report.left, accepted);
    assert_eq!(report.stats.left_at_shutdown, accepted as u64);
    assert_eq!(report.stats.sent, 0);
}

#[tokio::test]
async fn flush_and_close_report_leftovers() {
    let server = Server::start(vec![reply(200).after(HANG)]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, SEQUENTIAL).unwrap();
    let handle = queue.handle();
    for n in 0..3 {
        handle.try_enqueue("create", payload("create", n)).unwrap();
    }
    let started = Instant::now();
    let report = queue.flush(soon(Duration::from_millis(300))).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(report.left, 3);
    // Flushing keeps intake open.
    handle.try_enqueue("create", payload("create", 3)).unwrap();

    let started = Instant::now();
    let report = queue.close(soon(Duration::from_millis(300))).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(report.left, 4);
    assert_eq!(report.stats.left_at_shutdown, 4);
    assert_eq!(report.stats.sent, 0);
    // A handle outliving the queue is refused, and the refusal counted.
    assert_eq!(
        handle.try_enqueue("create", Vec::new()),
        Err(Dropped::Closed)
    );
    assert_eq!(handle.stats().left_at_shutdown, 5);
    // Only the first payload ever reached the server.
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn close_delivers_what_is_queued_before_the_deadline() {
    let server = Server::start(vec![reply(200).after(Duration::from_millis(50))]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, SEQUENTIAL).unwrap();
    for n in 0..5 {
        queue.try_enqueue("stats", payload("stats", n)).unwrap();
    }
    let report = queue.close(soon(Duration::from_secs(20))).await;
    assert_eq!(report.left, 0);
    assert_eq!((report.stats.sent, report.stats.left_at_shutdown), (5, 0));
    assert_eq!(server.requests(), 5);
}

#[tokio::test]
async fn queue_counts_retries_rejections_and_failures() {
    let server = Server::start(vec![reply(503), reply(200), reply(400)]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, SEQUENTIAL).unwrap();
    queue.try_enqueue("stats", b"{}".to_vec()).unwrap();
    queue.try_enqueue("stats", b"{}".to_vec()).unwrap();
    let report = queue.flush(soon(Duration::from_secs(20))).await;
    assert_eq!(report.left, 0);
    let s = report.stats;
    assert_eq!(
        (s.enqueued, s.sent, s.retried, s.rejected, s.failed),
        (2, 1, 1, 1, 0)
    );
}

#[tokio::test]
async fn pause_discards_the_queue_and_lets_the_request_on_the_wire_finish() {
    let server = Server::start(vec![reply(200).after(Duration::from_millis(500))]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, SEQUENTIAL).unwrap();
    for n in 0..3 {
        queue.try_enqueue("update", payload("update", n)).unwrap();
    }
    assert!(eventually(Duration::from_secs(10), || server.requests() == 1).await);
    // Two were waiting. The one on the wire is accepted by the server, so it
    // is counted sent, not dropped: it was delivered.
    assert_eq!(queue.pause(), 2);
    assert!(
        eventually(Duration::from_secs(10), || {
            let s = queue.stats();
            (s.sent, s.dropped_opt_out) == (1, 2)
        })
        .await,
        "{:?}",
        queue.stats()
    );
    assert_eq!(
        queue.try_enqueue("update", Vec::new()),
        Err(Dropped::OptedOut)
    );
    // Once closed, the worker is gone: the count of requests is final.
    let report = queue.close(soon(Duration::from_secs(5))).await;
    assert_eq!(server.requests(), 1);
    assert_eq!(report.left, 0);
    let s = report.stats;
    assert_eq!(
        (s.enqueued, s.sent, s.dropped_opt_out, s.left_at_shutdown),
        (3, 1, 3, 0)
    );
}

#[tokio::test]
async fn pause_abandons_the_payload_in_flight_at_its_next_retry() {
    let server = Server::start(vec![
        reply(503).after(Duration::from_millis(300)),
        reply(200),
    ])
    .await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, SEQUENTIAL).unwrap();
    queue.try_enqueue("update", payload("update", 0)).unwrap();
    assert!(eventually(Duration::from_secs(10), || server.requests() == 1).await);
    assert_eq!(queue.pause(), 0);
    assert!(
        eventually(Duration::from_secs(10), || queue.stats().dropped_opt_out
            == 1)
        .await,
        "{:?}",
        queue.stats()
    );
    let report = queue.close(soon(Duration::from_secs(5))).await;
    // The 503 would have been retried: switched off, it is not.
    assert_eq!(server.requests(), 1);
    let s = report.stats;
    assert_eq!(
        (s.enqueued, s.sent, s.retried, s.dropped_opt_out),
        (1, 0, 0, 1)
    );
}

#[tokio::test]
async fn queue_keeps_max_in_flight_requests_at_the_server_at_once() {
    // No request is answered before four are held at the server together:
    // one at a time, the first would wait for ever and the flush time out.
    let server = Server::gated(vec![reply(200)], 4).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 16, FOUR).unwrap();
    let mut sent: Vec<Vec<u8>> = (0..8).map(|n| payload("stats", n)).collect();
    for body in &sent {
        queue.try_enqueue("stats", body.clone()).unwrap();
    }
    let report = queue.flush(soon(Duration::from_secs(20))).await;
    assert_eq!(
        report.left,
        0,
        "fewer than 4 requests were at the server at once: {} arrived",
        server.requests()
    );
    assert_eq!((report.stats.enqueued, report.stats.sent), (8, 8));
    assert_eq!(server.peak(), 4, "never more than max_in_flight at once");
    let mut seen: Vec<Vec<u8>> = server.seen().into_iter().map(|s| s.body).collect();
    seen.sort();
    sent.sort();
    assert_eq!(seen, sent, "each payload exactly once");
    let report = queue.close(soon(Duration::from_secs(5))).await;
    assert_eq!((report.left, report.stats.left_at_shutdown), (0, 0));
}

#[tokio::test]
async fn close_at_the_deadline_counts_every_payload_in_flight_and_queued() {
    let server = Server::start(vec![reply(200).after(HANG)]).await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, FOUR).unwrap();
    for n in 0..7 {
        queue.try_enqueue("create", payload("create", n)).unwrap();
    }
    assert!(
        eventually(Duration::from_secs(10), || server.requests() == 4).await,
        "{} requests at the server",
        server.requests()
    );
    let started = Instant::now();
    let report = queue.close(soon(Duration::from_millis(300))).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    // Four hang in flight, three never left the queue.
    assert_eq!(report.left, 7);
    let s = report.stats;
    assert_eq!((s.enqueued, s.sent, s.left_at_shutdown), (7, 0, 7));
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn pause_abandons_every_payload_in_flight_at_its_next_retry() {
    // The first four requests get a 503 late enough for the switch to come
    // first; the retries it would have made would get a 200.
    let busy = reply(503).after(Duration::from_secs(1));
    let server = Server::start(vec![
        busy.clone(),
        busy.clone(),
        busy.clone(),
        busy,
        reply(200),
    ])
    .await;
    let queue = DeliveryQueue::start(Arc::new(transport(&server)), 10, FOUR).unwrap();
    for n in 0..6 {
        queue.try_enqueue("update", payload("update", n)).unwrap();
    }
    assert!(eventually(Duration::from_secs(10), || server.requests() == 4).await);
    assert_eq!(queue.pause(), 2, "two were still queued");
    assert!(
        eventually(Duration::from_secs(10), || queue.stats().dropped_opt_out
            == 6)
        .await,
        "{:?}",
        queue.stats()
    );
    let report = queue.close(soon(Duration::from_secs(5))).await;
    assert_eq!(
        server.requests(),
        4,
        "no retry, nothing sent after the switch"
    );
    assert_eq!(report.left, 0);
    let s = report.stats;
    assert_eq!(
        (
            s.enqueued,
            s.sent,
            s.retried,
            s.dropped_opt_out,
            s.left_at_shutdown
        ),
        (6, 0, 0, 6, 0)
    );
}

#[tokio::test]
async fn queue_refuses_zero_capacity() {
    let transport = Arc::new(Transport::new(config("http://127.0.0.1:9".into())).unwrap());
    assert_eq!(
        DeliveryQueue::start(transport, 0, SEQUENTIAL).unwrap_err(),
        QueueError::ZeroCapacity
    );
}

#[test]
fn queue_needs_a_runtime() {
    let transport = Arc::new(Transport::new(config("http://127.0.0.1:9".into())).unwrap());
    assert_eq!(
        DeliveryQueue::start(transport, 1, SEQUENTIAL).unwrap_err(),
        QueueError::NoRuntime
    );
}

// ---------------------------------------------------------------- config --

#[test]
fn defaults() {
    let config = TransportConfig::new(UA);
    assert_eq!(config.endpoint, "https://telemetry.clastix.io");
    assert_eq!(config.timeout, Duration::from_secs(5));
    assert_eq!(config.retry, RetryPolicy::default());
    assert_eq!(config.response_body_limit, 4096);
    assert_eq!(config.ca_file, None);
    assert!(Transport::new(config).is_ok());
}

#[test]
fn bad_endpoints_are_refused_with_the_url() {
    for bad in [
        "not a url",
        "ftp://telemetry.example",
        "mailto:ops@example.com",
        "https://telemetry.example/?token=1",
        "",
    ] {
        let error = Transport::new(config(bad.into())).unwrap_err();
        assert!(
            matches!(&error, ConfigError::InvalidEndpoint { url, .. } if url == bad),
            "{bad}: {error}"
        );
        assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
    }
}

#[test]
fn bad_user_agent_is_refused() {
    let mut config = config("https://telemetry.example".into());
    config.user_agent = "kamaji\r\nX-Injected: 1".into();
    assert!(matches!(
        Transport::new(config),
        Err(ConfigError::InvalidUserAgent(_))
    ));
}

/// A self-signed CA certificate (public part only), for CA file checks.
const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgIUJdW+Qx1RIeZ2WF0geSe0uFMhDDUwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYa2FtYWppLXRlbGVtZXRyeSB0ZXN0IENBMCAXDTI2MTEyNTA4
MDQxMFoYDzIxMjYxMTAxMDgwNDEwWjAjMSEwHwYDVQQDDBhrYW1hamktdGVsZW1l
dHJ5IHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR0eSJDYW11MeSe
wpUSnaZl5TW8y3ee/bTXZkdvYhbYLyG/Zf/bS/kqBUfk8wSfZZqwfm+kd2oS3fLZ
u18L/p9co1MwUTAdBgNVHQ4EFgQURCHdlM/9JIel7kWhQtL4Nskp5AIwHwYDVR0j
BBgwFoAURCHdlM/9JIel7kWhQtL4Nskp5AIwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNIADBFAiBntI52zeVbcfrDzUuwfsetOF8LA6dBKjmPnmS+joPJ8wIh
AMmZlquAa4EuD7LjCHBUCH7UyT/O7nLQ0kKlEYrWtrzp
-----END CERTIFICATE-----
";

fn with_ca_file(contents: &str) -> (tempfile::TempDir, Result<Transport, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, contents).unwrap();
    let mut config = config("https://telemetry.example".into());
    config.ca_file = Some(path);
    let result = Transport::new(config);
    (dir, result)
}

#[test]
fn valid_ca_file_is_accepted() {
    let (_dir, result) = with_ca_file(TEST_CA);
    assert!(result.is_ok(), "{:?}", result.err());
    let (_dir, result) = with_ca_file(&format!("{TEST_CA}{TEST_CA}"));
    assert!(result.is_ok(), "{:?}", result.err());
}

#[test]
fn missing_ca_file_names_the_path() {
    let mut config = config("https://telemetry.example".into());
    let path = std::env::temp_dir().join("kamaji-telemetry-no-such-dir/ca.pem");
    config.ca_file = Some(path.clone());
    let error = Transport::new(config).unwrap_err();
    assert!(
        matches!(&error, ConfigError::CaFileUnreadable { path: p, .. } if *p == path),
        "{error}"
    );
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn ca_file_without_certificate_is_refused() {
    let (dir, result) = with_ca_file("this is not a certificate\n");
    let error = result.expect_err("an error");
    assert!(matches!(error, ConfigError::CaFileEmpty { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&dir.path().join("ca.pem").display().to_string()),
        "{error}"
    );
}

#[test]
fn ca_file_with_broken_certificate_is_refused() {
    let broken_der = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let broken_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    for contents in [broken_der, broken_base64] {
        let (dir, result) = with_ca_file(contents);
        let error = result.expect_err("an error");
        assert!(
            matches!(error, ConfigError::CaFileInvalid { .. }),
            "{contents}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains(&dir.path().join("ca.pem").display().to_string()),
            "{error}"
        );
    }
}
