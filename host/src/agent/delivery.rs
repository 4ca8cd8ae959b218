//! The delivery queue as the agent uses it: one that can be switched off and
//! on again at runtime.
//!
//! Switching off calls [`DeliveryQueue::drop_all`]: every queued payload is
//! discarded, the one in flight is cancelled, and the queue refuses all later
//! ones (each counted as dropped by opt-out). That queue stays in place while
//! telemetry is off, so a payload built in the moment of the switch is
//! refused and counted too. Switching on starts a fresh queue on the same
//! transport, whose counters therefore keep adding up.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use crate::transport::{DeliveryQueue, FlushReport, QueueError, Transport};

#[derive(Debug)]
pub struct Delivery {
    transport: Arc<Transport>,
    capacity: usize,
    /// `None` once closed at shutdown.
    queue: Mutex<Option<DeliveryQueue>>,
}

impl Delivery {
    /// Starts the queue on the current Tokio runtime.
    pub fn start(transport: Arc<Transport>, capacity: usize) -> Result<Self, QueueError> {
        let queue = DeliveryQueue::start(Arc::clone(&transport), capacity)?;
        Ok(Self {
            transport,
            capacity,
            queue: Mutex::new(Some(queue)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<DeliveryQueue>> {
        // Every update is a single assignment: a poisoned lock holds valid data.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a payload; never waits. The queue counts what it refuses.
    pub fn enqueue(&self, route: &str, body: Vec<u8>) {
        match self.lock().as_ref() {
            Some(queue) => {
                if let Err(dropped) = queue.try_enqueue(route, body) {
                    tracing::warn!(route, "payload dropped: {dropped}");
                }
            }
            None => tracing::warn!(route, "payload dropped: delivery has shut down"),
        }
    }

    /// Runtime opt-out: discards the queued payloads and refuses the next ones.
    /// Returns how many were discarded.
    pub fn drop_all(&self) -> usize {
        self.lock().as_ref().map_or(0, DeliveryQueue::drop_all)
    }

    /// Back on after [`Self::drop_all`]: a fresh queue takes payloads again.
    /// Must be called within the Tokio runtime.
    pub fn restart(&self) -> Result<(), QueueError> {
        let queue = DeliveryQueue::start(Arc::clone(&self.transport), self.capacity)?;
        // The replaced queue was drained by `drop_all`; dropping it ends its task.
        *self.lock() = Some(queue);
        Ok(())
    }

    /// Payloads queued or in flight now.
    pub async fn depth(&self) -> usize {
        let Some(handle) = self.lock().as_ref().map(DeliveryQueue::handle) else {
            return 0;
        };
        // A flush whose deadline has already passed waits for nothing and
        // reports what is still queued or in flight: the depth.
        handle.flush(Instant::now()).await.left
    }

    /// Stops intake and delivers what is queued until `deadline`.
    pub async fn close(&self, deadline: Instant) -> Option<FlushReport> {
        let queue = self.lock().take()?;
        Some(queue.close(deadline).await)
    }
}
