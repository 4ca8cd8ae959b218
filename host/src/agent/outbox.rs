//! Where the agent's payloads go: the delivery queue, or, in local mode, a
//! directory of records.
//!
//! Whether payloads go out is the queue's to say: switching telemetry off
//! pauses it (every queued payload is discarded, each one in flight is
//! abandoned at its next retry, and later ones are refused, all counted as
//! dropped by opt-out) and switching on resumes it, the same queue with the
//! same counters. A payload built in the moment of the switch is refused and
//! counted too. In local mode there is no transport at all, so no connection.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use tokio::time::Instant;

use crate::model::Payload;
use crate::transport::local_mode::LocalRecorder;
use crate::transport::{
    Counter, DeliveryQueue, DeliveryStats, FlushReport, QueueError, QueueHandle, Transport,
};

/// What the agent's parts share to hand payloads over, and to pause and
/// resume their delivery.
#[derive(Debug)]
pub struct Outbox {
    stats: Arc<DeliveryStats>,
    target: Target,
}

#[derive(Debug)]
enum Target {
    /// A handle: the queue itself is shutdown's to close ([`FinalFlush`]).
    Queue(QueueHandle),
    /// Local mode: records instead of requests.
    Local(Mutex<LocalRecorder>),
}

/// What shutdown does last: close the queue, delivering what is queued until
/// the deadline, or in local mode, which has nothing in flight, report the
/// counters. It owns the queue, so that closing can consume it without a lock
/// around the queue that every payload would take.
#[derive(Debug)]
pub enum FinalFlush {
    Queue(DeliveryQueue),
    Local(Arc<DeliveryStats>),
}

impl Outbox {
    /// Starts the queue on the current Tokio runtime (see [`DeliveryQueue::start`]).
    pub fn start(
        transport: Arc<Transport>,
        capacity: usize,
        max_in_flight: NonZeroUsize,
    ) -> Result<(Self, FinalFlush), QueueError> {
        let queue = DeliveryQueue::start(Arc::clone(&transport), capacity, max_in_flight)?;
        let outbox = Self {
            stats: Arc::clone(transport.stats()),
            target: Target::Queue(queue.handle()),
        };
        Ok((outbox, FinalFlush::Queue(queue)))
    }

    /// Local mode: every payload is recorded by `recorder`, none is sent.
    pub fn local(recorder: LocalRecorder) -> (Self, FinalFlush) {
        let stats = Arc::<DeliveryStats>::default();
        let outbox = Self {
            stats: Arc::clone(&stats),
            target: Target::Local(Mutex::new(recorder)),
        };
        (outbox, FinalFlush::Local(stats))
    }

    /// The counters, which the metrics read.
    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }

    /// Queues a payload, or records it in local mode; never waits on the
    /// network. What is refused is counted.
    pub fn enqueue(&self, payload: Payload) {
        let route = payload.route.as_str();
        match &self.target {
            // A poisoned lock holds a valid recorder: every update under it is one append.
            Target::Local(recorder) => match recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(&payload, SystemTime::now())
            {
                Ok(()) => self.stats.add(Counter::Recorded, 1),
                Err(error) => {
                    self.stats.add(Counter::Failed, 1);
                    tracing::warn!(route, "payload not recorded: {error}");
                }
            },
            Target::Queue(queue) => {
                if let Err(dropped) = queue.try_enqueue(route, payload.body.into_bytes()) {
                    tracing::warn!(route, "payload dropped: {dropped}");
                }
            }
        }
    }

    /// Runtime opt-out: see [`QueueHandle::pause`]. Returns how many queued
    /// payloads were discarded; local mode has none.
    pub fn pause(&self) -> usize {
        match &self.target {
            Target::Queue(queue) => queue.pause(),
            Target::Local(_) => 0,
        }
    }

    /// Back on after [`Self::pause`].
    pub fn resume(&self) {
        if let Target::Queue(queue) = &self.target {
            queue.resume();
        }
    }

    /// Payloads queued or in flight now.
    pub async fn depth(&self) -> usize {
        let Target::Queue(queue) = &self.target else {
            return 0;
        };
        // A flush whose deadline has already passed waits for nothing and
        // reports what is still queued or in flight: the depth.
        queue.flush(Instant::now()).await.left
    }
}

impl FinalFlush {
    /// Stops intake and delivers what is queued until `deadline`.
    pub async fn run(self, deadline: Instant) -> FlushReport {
        match self {
            Self::Queue(queue) => queue.close(deadline).await,
            Self::Local(stats) => FlushReport {
                left: 0,
                stats: stats.snapshot(),
            },
        }
    }
}
