//! A bounded in-memory queue in front of the transport.
//!
//! Callers (an admission webhook, a heartbeat, the CLI) hand payloads over
//! with [`QueueHandle::try_enqueue`], which never waits: when the queue is
//! full the payload is dropped and counted. One background task takes the
//! payloads in order and keeps up to `max_in_flight` deliveries running at
//! once over the transport's shared client, each on its own connection from
//! the pool. With 1, delivery is sequential: in order, over one connection,
//! plenty for a few payloads a minute. A bulk sender wants more, so that the
//! round trips of one payload overlap the work of the next.
//!
//! The queue is the one owner of whether payloads go out: [`QueueHandle::pause`]
//! (telemetry switched off at runtime) drops what is queued, abandons what is
//! in flight at its next retry and refuses what comes next, all counted as
//! dropped by opt-out, until [`QueueHandle::resume`]. The same queue, with its
//! task and counters, goes on.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::delivery::Delivery;
use super::http_client::Transport;
use super::stats::{Counter, DeliveryStats, StatsSnapshot};

/// Why a payload was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// The queue holds `capacity` payloads already. Counted in `dropped_queue_full`.
    #[error("delivery queue full")]
    QueueFull,
    /// The queue is paused: telemetry was switched off. Counted in `dropped_opt_out`.
    #[error("telemetry switched off")]
    OptedOut,
    /// The queue was closed. Counted in `left_at_shutdown`.
    #[error("delivery queue closed")]
    Closed,
}

/// The queue cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("the delivery queue needs a capacity of at least 1")]
    ZeroCapacity,
    #[error("the delivery queue must be started from within a Tokio runtime")]
    NoRuntime,
}

/// What `flush` or `close` could not deliver in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// Payloads still queued or in flight at the deadline.
    pub left: usize,
    /// The counters when the report was made.
    pub stats: StatsSnapshot,
}

/// Owns the delivery task. Share payload intake with [`Self::handle`]; shut
/// down with [`Self::close`]. Dropping it without `close` stops intake and
/// lets the task deliver what is queued in the background.
#[derive(Debug)]
pub struct DeliveryQueue {
    handle: QueueHandle,
    worker: Option<JoinHandle<()>>,
}

/// A cheap, cloneable handle for enqueuing payloads and reading counters,
/// e.g. one per webhook handler.
#[derive(Debug, Clone)]
pub struct QueueHandle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Held only for O(1) updates, never across an await, so `try_enqueue`
    /// does not wait on the worker.
    state: Mutex<State>,
    capacity: usize,
    max_in_flight: NonZeroUsize,
    /// Wakes the worker: a payload arrived, or the queue was closed.
    work: Notify,
    /// Wakes `flush` callers: nothing is queued or in flight any more.
    idle: Notify,
    /// Marked changed by every pause. Each delivery subscribes when it
    /// starts, so it gives up at a pause that comes after its start, and
    /// only then. Sent and subscribed to under the state lock, so that no
    /// delivery can start between a pause and its signal.
    pauses: watch::Sender<()>,
    stats: Arc<DeliveryStats>,
}

#[derive(Debug, Default)]
struct State {
    queued: VecDeque<QueuedPayload>,
    /// Payloads taken from `queued` whose delivery has not ended.
    in_flight: usize,
    closed: bool,
    paused: bool,
}

#[derive(Debug)]
struct QueuedPayload {
    route: String,
    body: Vec<u8>,
}

/// What the worker does next.
enum Step {
    /// Deliver the payload, unless a pause signalled on the receiver comes first.
    Deliver(QueuedPayload, watch::Receiver<()>),
    /// Nothing queued yet.
    Wait,
    /// Nothing queued, and nothing ever will be: closed.
    Exit,
}

impl DeliveryQueue {
    /// Starts the delivery task on the current Tokio runtime. `capacity` is
    /// the number of payloads that can wait (those in flight not included);
    /// `max_in_flight` the number delivered at once (1: one after the other,
    /// in order). The queue counts into the transport's [`DeliveryStats`].
    pub fn start(
        transport: Arc<Transport>,
        capacity: usize,
        max_in_flight: NonZeroUsize,
    ) -> Result<Self, QueueError> {
        if capacity == 0 {
            return Err(QueueError::ZeroCapacity);
        }
        let runtime = Handle::try_current().map_err(|_| QueueError::NoRuntime)?;
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            capacity,
            max_in_flight,
            work: Notify::new(),
            idle: Notify::new(),
            pauses: watch::Sender::new(()),
            stats: Arc::clone(transport.stats()),
        });
        let worker = runtime.spawn(run(Arc::clone(&shared), transport));
        Ok(Self {
            handle: QueueHandle { shared },
            worker: Some(worker),
        })
    }

    /// A handle to enqueue from other tasks.
    pub fn handle(&self) -> QueueHandle {
        self.handle.clone()
    }

    /// See [`QueueHandle::try_enqueue`].
    pub fn try_enqueue(&self, route: &str, body: Vec<u8>) -> Result<(), Dropped> {
        self.handle.try_enqueue(route, body)
    }

    /// See [`QueueHandle::flush`].
    pub async fn flush(&self, deadline: Instant) -> FlushReport {
        self.handle.flush(deadline).await
    }

    /// See [`QueueHandle::pause`].
    pub fn pause(&self) -> usize {
        self.handle.pause()
    }

    /// See [`QueueHandle::resume`].
    pub fn resume(&self) {
        self.handle.resume();
    }

    /// See [`QueueHandle::stats`].
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.stats()
    }

    /// Stops intake, delivers what is queued until `deadline`, then cancels
    /// the rest. What was not delivered is counted in `left_at_shutdown` and
    /// reported in `left`.
    pub async fn close(mut self, deadline: Instant) -> FlushReport {
        let shared = &self.handle.shared;
        shared.close();
        if let Some(mut worker) = self.worker.take()
            && tokio::time::timeout_at(deadline, &mut worker)
                .await
                .is_err()
        {
            // Prompt: the deliveries run inside the worker, and go with it at
            // its next poll.
            worker.abort();
            if let Err(error) = worker.await
                && !error.is_cancelled()
            {
                tracing::error!(%error, "telemetry delivery task failed");
            }
        }
        let left = shared.abandon_rest();
        FlushReport {
            left,
            stats: shared.stats.snapshot(),
        }
    }
}

impl Drop for DeliveryQueue {
    fn drop(&mut self) {
        self.handle.shared.close();
    }
}

impl QueueHandle {
    /// Queues a payload for `POST {endpoint}/{route}`. Never waits: a full,
    /// paused or closed queue refuses the payload at once and counts it.
    pub fn try_enqueue(&self, route: &str, body: Vec<u8>) -> Result<(), Dropped> {
        let verdict = self.shared.push(QueuedPayload {
            route: route.to_owned(),
            body,
        });
        let counter = match verdict {
            Ok(()) => Counter::Enqueued,
            Err(Dropped::QueueFull) => Counter::DroppedQueueFull,
            Err(Dropped::OptedOut) => Counter::DroppedOptOut,
            Err(Dropped::Closed) => Counter::LeftAtShutdown,
        };
        self.shared.stats.add(counter, 1);
        if verdict.is_ok() {
            self.shared.work.notify_one();
        }
        verdict
    }

    /// Waits until nothing is queued or in flight, or until `deadline`.
    /// Intake stays open; the payloads left keep being delivered.
    pub async fn flush(&self, deadline: Instant) -> FlushReport {
        loop {
            // Register before checking, so a wake-up between the check and
            // the wait is not lost.
            let idle = self.shared.idle.notified();
            let mut idle = std::pin::pin!(idle);
            idle.as_mut().enable();
            if self.shared.pending() == 0 || tokio::time::timeout_at(deadline, idle).await.is_err()
            {
                break;
            }
        }
        FlushReport {
            left: self.shared.pending(),
            stats: self.stats(),
        }
    }

    /// Runtime opt-out: discards every queued payload, abandons each one in
    /// flight at its next retry and refuses all later ones until
    /// [`Self::resume`], all counted in `dropped_opt_out` (a request already
    /// on the wire is counted as it ends). Returns how many queued payloads
    /// were discarded (those in flight are counted as they stop). A request
    /// already on the wire may still reach the server; nothing is sent after it.
    pub fn pause(&self) -> usize {
        let discarded = {
            let mut state = self.shared.lock();
            state.paused = true;
            self.shared.pauses.send_replace(());
            std::mem::take(&mut state.queued).len()
        };
        self.shared
            .stats
            .add(Counter::DroppedOptOut, to_u64(discarded));
        self.shared.notify_if_idle();
        discarded
    }

    /// Back on after [`Self::pause`]: payloads are taken again.
    pub fn resume(&self) {
        self.shared.lock().paused = false;
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and every update leaves the
        // state valid, so a poisoned lock still holds usable data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, payload: QueuedPayload) -> Result<(), Dropped> {
        let mut state = self.lock();
        if state.paused {
            Err(Dropped::OptedOut)
        } else if state.closed {
            Err(Dropped::Closed)
        } else if state.queued.len() >= self.capacity {
            Err(Dropped::QueueFull)
        } else {
            state.queued.push_back(payload);
            Ok(())
        }
    }

    fn pending(&self) -> usize {
        let state = self.lock();
        state.queued.len() + state.in_flight
    }

    fn close(&self) {
        self.lock().closed = true;
        self.work.notify_one();
    }

    fn next_step(&self) -> Step {
        let mut state = self.lock();
        match state.queued.pop_front() {
            Some(payload) => {
                state.in_flight += 1;
                Step::Deliver(payload, self.pauses.subscribe())
            }
            None if state.closed => Step::Exit,
            None => Step::Wait,
        }
    }

    /// A delivery ended, whatever its outcome (counted by the transport).
    fn finish_in_flight(&self) {
        self.lock().in_flight -= 1;
        self.notify_if_idle();
    }

    /// Wakes the `flush` callers once nothing is queued or in flight.
    fn notify_if_idle(&self) {
        if self.pending() == 0 {
            self.idle.notify_waiters();
        }
    }

    /// After the worker has ended: counts and discards everything left.
    fn abandon_rest(&self) -> usize {
        let left = {
            let mut state = self.lock();
            let left = state.queued.len() + state.in_flight;
            state.queued.clear();
            state.in_flight = 0;
            left
        };
        self.stats.add(Counter::LeftAtShutdown, to_u64(left));
        self.idle.notify_waiters();
        left
    }
}

/// The delivery task: keeps up to `max_in_flight` deliveries running, taken
/// in queue order, until the queue is closed and drained, or `close` reaches
/// its deadline and aborts it. Deliveries run inside this task, so aborting
/// it cancels them all at once.
async fn run(shared: Arc<Shared>, transport: Arc<Transport>) {
    let limit = shared.max_in_flight.get();
    let mut deliveries = FuturesUnordered::new();
    loop {
        while deliveries.len() < limit {
            match shared.next_step() {
                Step::Deliver(payload, pauses) => {
                    deliveries.push(deliver(&shared, &transport, payload, pauses))
                }
                Step::Exit if deliveries.is_empty() => return,
                Step::Exit | Step::Wait => break,
            }
        }
        // At the limit, new payloads wait for a delivery to end, not for `work`.
        let room = deliveries.len() < limit;
        tokio::select! {
            biased;
            Some(()) = deliveries.next() => {}
            () = shared.work.notified(), if room => {}
        }
    }
}

/// Delivers one payload. It is marked done in the same poll in which the
/// transport counts its outcome, so a cancelled worker never leaves a
/// payload both counted and in flight (which `close` would count again).
async fn deliver(
    shared: &Shared,
    transport: &Transport,
    payload: QueuedPayload,
    mut pauses: watch::Receiver<()>,
) {
    // The sender lives in `Shared`, which outlives this delivery: only a
    // pause ends the wait.
    let paused = async move {
        let _ = pauses.changed().await;
    };
    let delivery = transport
        .send_unless(&payload.route, &payload.body, paused)
        .await;
    log_delivery(&payload.route, &delivery);
    shared.finish_in_flight();
}

/// Every payload that did not make it is logged with the reason, so that a
/// summary's counts can be explained.
fn log_delivery(route: &str, delivery: &Delivery) {
    match delivery {
        Delivery::Sent { .. } => tracing::debug!(route, "{delivery}"),
        Delivery::Rejected { .. } | Delivery::GaveUp { .. } | Delivery::Abandoned { .. } => {
            tracing::warn!(route, "payload not delivered: {delivery}")
        }
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transport::{RetryPolicy, TransportConfig};

    /// A transport to a port nothing listens on, retrying every millisecond:
    /// a payload stays in flight, retried, until it is abandoned.
    fn refused_transport() -> Arc<Transport> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut config = TransportConfig::new("queue-test");
        config.endpoint = format!("http://127.0.0.1:{port}");
        config.retry = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_interval: Duration::from_millis(1),
            max_elapsed: Duration::from_secs(600),
        };
        Arc::new(Transport::new(config).expect("a transport"))
    }

    fn start() -> DeliveryQueue {
        DeliveryQueue::start(refused_transport(), 10, NonZeroUsize::MIN).expect("a queue")
    }

    async fn until(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn in_flight(queue: &DeliveryQueue) -> usize {
        queue.handle.shared.lock().in_flight
    }

    #[tokio::test]
    async fn pause_drops_the_queued_abandons_the_in_flight_and_refuses_the_next() {
        let queue = start();
        for _ in 0..3 {
            queue.try_enqueue("stats", b"{}".to_vec()).expect("queued");
        }
        until("one payload in flight", || in_flight(&queue) == 1).await;
        assert_eq!(queue.pause(), 2, "two were still queued");
        until("the payload in flight abandoned", || {
            queue.stats().dropped_opt_out == 3
        })
        .await;
        assert_eq!(
            queue.try_enqueue("stats", Vec::new()),
            Err(Dropped::OptedOut)
        );
        let stats = queue.stats();
        assert_eq!((stats.enqueued, stats.dropped_opt_out), (3, 4));
        assert_eq!(queue.flush(Instant::now()).await.left, 0);
    }

    #[tokio::test]
    async fn resume_takes_payloads_again_and_an_old_pause_abandons_none_of_them() {
        let queue = start();
        queue.pause();
        queue.resume();
        queue.try_enqueue("stats", b"{}".to_vec()).expect("queued");
        until("the payload retried", || queue.stats().retried >= 3).await;
        let stats = queue.stats();
        assert_eq!((stats.enqueued, stats.dropped_opt_out), (1, 0));
        let report = queue.close(Instant::now()).await;
        assert_eq!((report.left, report.stats.left_at_shutdown), (1, 1));
    }
}
