//! Where the agent's payloads go: the delivery queue, which can be switched
//! off and on again at runtime, or, in local mode, a directory of records.
//!
//! Switching off calls [`DeliveryQueue::drop_all`]: every queued payload is
//! discarded, each one in flight is abandoned at its next retry, and the
//! queue refuses all later ones (each counted as dropped by opt-out). That
//! queue stays in place while telemetry is off, so a payload built in the
//! moment of the switch is refused and counted too. Switching on starts a
//! fresh queue on the same transport, whose counters therefore keep adding
//! up. In local mode there is no transport at all, so no connection.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::time::Instant;

use crate::local_mode::LocalRecorder;
use crate::model::Payload;
use crate::transport::{Counter, DeliveryQueue, DeliveryStats, FlushReport, QueueError, Transport};

#[derive(Debug)]
pub struct Delivery {
    stats: Arc<DeliveryStats>,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Remote {
        transport: Arc<Transport>,
        capacity: usize,
        max_in_flight: NonZeroUsize,
        /// `None` once closed at shutdown.
        queue: Mutex<Option<DeliveryQueue>>,
    },
    /// Local mode: records instead of requests.
    Local(Mutex<LocalRecorder>),
}

/// A poisoned lock holds valid data: every update under it is one assignment
/// or one append.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Delivery {
    /// Starts the queue on the current Tokio runtime (see [`DeliveryQueue::start`]).
    pub fn start(
        transport: Arc<Transport>,
        capacity: usize,
        max_in_flight: NonZeroUsize,
    ) -> Result<Self, QueueError> {
        let queue = DeliveryQueue::start(Arc::clone(&transport), capacity, max_in_flight)?;
        Ok(Self {
            stats: Arc::clone(transport.stats()),
            target: Target::Remote {
                transport,
                capacity,
                max_in_flight,
                queue: Mutex::new(Some(queue)),
            },
        })
    }

    /// Local mode: every payload is recorded by `recorder`, none is sent.
    pub fn local(recorder: LocalRecorder) -> Self {
        Self {
            stats: Arc::default(),
            target: Target::Local(Mutex::new(recorder)),
        }
    }

    /// The counters, which the metrics read.
    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }

    fn queue(&self) -> Option<MutexGuard<'_, Option<DeliveryQueue>>> {
        match &self.target {
            Target::Remote { queue, .. } => Some(lock(queue)),
            Target::Local(_) => None,
        }
    }

    /// Queues a payload, or records it in local mode; never waits on the
    /// network. What is refused is counted.
    pub fn enqueue(&self, payload: Payload) {
        let route = payload.route.as_str();
        match &self.target {
            Target::Local(recorder) => match lock(recorder).record(&payload, SystemTime::now()) {
                Ok(()) => self.stats.add(Counter::Recorded, 1),
                Err(error) => {
                    self.stats.add(Counter::Failed, 1);
                    tracing::warn!(route, "payload not recorded: {error}");
                }
            },
            Target::Remote { queue, .. } => match lock(queue).as_ref() {
                Some(queue) => {
                    if let Err(dropped) = queue.try_enqueue(route, payload.body.into_bytes()) {
                        tracing::warn!(route, "payload dropped: {dropped}");
                    }
                }
                None => tracing::warn!(route, "payload dropped: delivery has shut down"),
            },
        }
    }

    /// Runtime opt-out: discards the queued payloads and refuses the next ones.
    /// Returns how many were discarded.
    pub fn drop_all(&self) -> usize {
        self.queue()
            .and_then(|queue| queue.as_ref().map(DeliveryQueue::drop_all))
            .unwrap_or(0)
    }

    /// Back on after [`Self::drop_all`]: a fresh queue takes payloads again.
    /// Must be called within the Tokio runtime.
    pub fn restart(&self) -> Result<(), QueueError> {
        if let Target::Remote {
            transport,
            capacity,
            max_in_flight,
            queue,
        } = &self.target
        {
            let fresh = DeliveryQueue::start(Arc::clone(transport), *capacity, *max_in_flight)?;
            // The replaced queue was drained by `drop_all`; dropping it ends its task.
            *lock(queue) = Some(fresh);
        }
        Ok(())
    }

    /// Payloads queued or in flight now.
    pub async fn depth(&self) -> usize {
        let handle = self
            .queue()
            .and_then(|queue| queue.as_ref().map(DeliveryQueue::handle));
        let Some(handle) = handle else {
            return 0;
        };
        // A flush whose deadline has already passed waits for nothing and
        // reports what is still queued or in flight: the depth.
        handle.flush(Instant::now()).await.left
    }

    /// Stops intake and delivers what is queued until `deadline`.
    /// Local mode has nothing in flight: its report is the counters.
    pub async fn close(&self, deadline: Instant) -> Option<FlushReport> {
        // The guard is gone before the wait: it must not be held across it.
        let taken = self.queue().map(|mut queue| queue.take());
        match taken {
            None => Some(FlushReport {
                left: 0,
                stats: self.stats.snapshot(),
            }),
            Some(queue) => Some(queue?.close(deadline).await),
        }
    }
}
