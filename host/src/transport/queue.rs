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

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::stats::{Counter, DeliveryStats, StatsSnapshot};
use super::{Delivery, Transport};

/// Why a payload was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// The queue holds `capacity` payloads already. Counted in `dropped_queue_full`.
    #[error("delivery queue full")]
    QueueFull,
    /// Telemetry was switched off with `drop_all`. Counted in `dropped_opt_out`.
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
    /// Wakes the worker: a payload arrived, or the queue was closed or
    /// switched off.
    work: Notify,
    /// Wakes `flush` callers: nothing is queued or in flight any more.
    idle: Notify,
    /// Cancels the worker, including the deliveries in progress.
    stop: watch::Sender<Option<Stop>>,
    stats: Arc<DeliveryStats>,
}

#[derive(Debug, Default)]
struct State {
    queued: VecDeque<Payload>,
    /// Payloads taken from `queued` whose delivery has not ended.
    in_flight: usize,
    closed: bool,
    opted_out: bool,
}

#[derive(Debug)]
struct Payload {
    route: String,
    body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// `drop_all`: each payload in flight is abandoned at its next retry; a
    /// request already on the wire finishes and is counted as it ends.
    OptOut,
    /// `close` reached its deadline: `close` counts what is left.
    Deadline,
}

/// What the worker does next.
enum Step {
    Deliver(Payload),
    /// Nothing queued yet.
    Wait,
    /// Nothing queued, and nothing ever will be: closed or switched off.
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
        let (stop, stop_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            capacity,
            max_in_flight,
            work: Notify::new(),
            idle: Notify::new(),
            stop,
            stats: Arc::clone(transport.stats()),
        });
        let worker = runtime.spawn(run(Arc::clone(&shared), transport, stop_rx));
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

    /// See [`QueueHandle::drop_all`].
    pub fn drop_all(&self) -> usize {
        self.handle.drop_all()
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
            shared.stop.send_replace(Some(Stop::Deadline));
            // Prompt: the worker drops its deliveries at its next poll.
            if let Err(error) = worker.await {
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
    /// opted-out or closed queue refuses the payload at once and counts it.
    pub fn try_enqueue(&self, route: &str, body: Vec<u8>) -> Result<(), Dropped> {
        let verdict = self.shared.push(Payload {
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
    /// flight at its next retry and refuses all later ones, all counted in
    /// `dropped_opt_out` (a request already on the wire is counted as it ends).
    /// Returns how many queued payloads were discarded (those in flight are
    /// counted by the worker as they stop). A request already on the wire may
    /// still reach the server; nothing is sent after it.
    pub fn drop_all(&self) -> usize {
        let discarded = {
            let mut state = self.shared.lock();
            state.opted_out = true;
            std::mem::take(&mut state.queued).len()
        };
        self.shared
            .stats
            .add(Counter::DroppedOptOut, to_u64(discarded));
        self.shared.stop.send_replace(Some(Stop::OptOut));
        // An idle worker has nothing left to do: wake it so that it ends.
        self.shared.work.notify_one();
        discarded
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

    fn push(&self, payload: Payload) -> Result<(), Dropped> {
        let mut state = self.lock();
        if state.opted_out {
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
                Step::Deliver(payload)
            }
            None if state.closed || state.opted_out => Step::Exit,
            None => Step::Wait,
        }
    }

    /// A delivery ended, whatever its outcome (counted by the transport).
    fn finish_in_flight(&self) {
        let idle = {
            let mut state = self.lock();
            state.in_flight -= 1;
            state.queued.is_empty() && state.in_flight == 0
        };
        if idle {
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
/// in queue order, until the queue is closed (or switched off) and drained,
/// or `close` reaches its deadline. Deliveries run inside this task, so
/// returning cancels them all at once.
async fn run(shared: Arc<Shared>, transport: Arc<Transport>, stop: watch::Receiver<Option<Stop>>) {
    let limit = shared.max_in_flight.get();
    let mut deliveries = FuturesUnordered::new();
    let deadline = stopped_for(stop.clone(), Stop::Deadline);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        while deliveries.len() < limit {
            match shared.next_step() {
                Step::Deliver(payload) => {
                    deliveries.push(deliver(&shared, &transport, payload, stop.clone()))
                }
                Step::Exit if deliveries.is_empty() => return,
                Step::Exit | Step::Wait => break,
            }
        }
        // At the limit, new payloads wait for a delivery to end, not for `work`.
        let room = deliveries.len() < limit;
        tokio::select! {
            biased;
            () = &mut deadline => return,
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
    payload: Payload,
    stop: watch::Receiver<Option<Stop>>,
) {
    let opted_out = stopped_for(stop, Stop::OptOut);
    let delivery = transport
        .send_unless(&payload.route, &payload.body, opted_out)
        .await;
    log_delivery(&payload.route, &delivery);
    shared.finish_in_flight();
}

/// Resolves once a stop for `reason` was requested.
async fn stopped_for(mut stop: watch::Receiver<Option<Stop>>, reason: Stop) {
    // The sender lives in `Shared`, which the worker holds: it cannot be
    // dropped while this waits, so an error never ends the wait early.
    let _ = stop.wait_for(|stop| *stop == Some(reason)).await;
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
