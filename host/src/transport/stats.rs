//! Delivery counters, shared between the transport, the queue and whoever
//! reports them (the CLI summary, a metrics endpoint).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Live counters. Every field only grows. Read them with [`Self::snapshot`].
///
/// Relaxed ordering is enough: each counter is independent and only ever
/// incremented, and readers want a recent value, not a consistent cut.
#[derive(Debug)]
pub struct DeliveryStats {
    enqueued: AtomicU64,
    sent: AtomicU64,
    retried: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_opt_out: AtomicU64,
    recorded: AtomicU64,
    left_at_shutdown: AtomicU64,
    /// How long each payload took from its first attempt to its outcome.
    delivery_seconds: Histogram,
}

impl Default for DeliveryStats {
    fn default() -> Self {
        Self {
            enqueued: AtomicU64::default(),
            sent: AtomicU64::default(),
            retried: AtomicU64::default(),
            rejected: AtomicU64::default(),
            failed: AtomicU64::default(),
            dropped_queue_full: AtomicU64::default(),
            dropped_opt_out: AtomicU64::default(),
            recorded: AtomicU64::default(),
            left_at_shutdown: AtomicU64::default(),
            // 5 ms to 41 s: a loopback answer to a retry budget spent.
            delivery_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Payloads accepted into the queue.
    pub enqueued: u64,
    /// Payloads the server accepted (2xx).
    pub sent: u64,
    /// Retry attempts made (not payloads): a payload sent on its 3rd try adds 2.
    pub retried: u64,
    /// Payloads the server refused with a final status (e.g. 400, 500).
    pub rejected: u64,
    /// Payloads given up on: retry budget spent, or a non-retryable transport error.
    pub failed: u64,
    /// Payloads refused because the queue was full.
    pub dropped_queue_full: u64,
    /// Payloads discarded or refused because telemetry was switched off at runtime.
    pub dropped_opt_out: u64,
    /// Payloads written to the local-mode directory instead of being sent.
    pub recorded: u64,
    /// Payloads not delivered because the queue was closing: still queued or
    /// in flight at the shutdown deadline, or offered after `close`.
    pub left_at_shutdown: u64,
}

impl DeliveryStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            enqueued: read(&self.enqueued),
            sent: read(&self.sent),
            retried: read(&self.retried),
            rejected: read(&self.rejected),
            failed: read(&self.failed),
            dropped_queue_full: read(&self.dropped_queue_full),
            dropped_opt_out: read(&self.dropped_opt_out),
            recorded: read(&self.recorded),
            left_at_shutdown: read(&self.left_at_shutdown),
        }
    }

    /// The distribution of delivery times, retries included.
    pub fn delivery_seconds(&self) -> &Histogram {
        &self.delivery_seconds
    }

    pub(crate) fn observe_delivery(&self, took: Duration) {
        self.delivery_seconds.observe(took.as_secs_f64());
    }

    pub(crate) fn add(&self, counter: Counter, n: u64) {
        let field = match counter {
            Counter::Enqueued => &self.enqueued,
            Counter::Sent => &self.sent,
            Counter::Retried => &self.retried,
            Counter::Rejected => &self.rejected,
            Counter::Failed => &self.failed,
            Counter::DroppedQueueFull => &self.dropped_queue_full,
            Counter::DroppedOptOut => &self.dropped_opt_out,
            Counter::Recorded => &self.recorded,
            Counter::LeftAtShutdown => &self.left_at_shutdown,
        };
        field.fetch_add(n, Ordering::Relaxed);
    }
}

/// Names a counter, so that callers increment through one method.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Enqueued,
    Sent,
    Retried,
    Rejected,
    Failed,
    DroppedQueueFull,
    DroppedOptOut,
    Recorded,
    LeftAtShutdown,
}
