//! From an event to a queued payload, off the request path.
//!
//! The webhook and the heartbeat hand events to [`Intake::submit`], which
//! never waits: a bounded channel takes the event, or it is dropped and
//! counted. One worker task takes them in order, runs each through the
//! pipeline on a blocking thread (plugin calls are synchronous CPU work), and
//! hands the payload to the delivery queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;

use super::metrics::{EventDrop, Metrics};
use super::outbox::Outbox;
use super::signals::ShutdownSignal;
use super::switch::Switch;
use crate::model::Event;
use crate::pipeline::{MAX_BATCH, Pipeline};
use crate::plugin::Outcome;

/// The sending side: cheap to clone, one per producer.
#[derive(Debug, Clone)]
pub struct Intake {
    sender: mpsc::Sender<Event>,
    switch: Arc<Switch>,
    metrics: Arc<Metrics>,
}

impl Intake {
    /// An intake of `capacity` events, and the receiver for the worker.
    pub fn new(
        capacity: usize,
        switch: Arc<Switch>,
        metrics: Arc<Metrics>,
    ) -> (Self, mpsc::Receiver<Event>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let intake = Self {
            sender,
            switch,
            metrics,
        };
        (intake, receiver)
    }

    /// Queues the event for the plugin, or drops it (counted) when telemetry
    /// is off or the queue is full. Never waits.
    pub fn submit(&self, event: Event) {
        self.metrics.event_received(&event);
        if !self.switch.is_on() {
            self.metrics.event_dropped(EventDrop::Disabled);
            return;
        }
        match self.sender.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.metrics.event_dropped(EventDrop::IntakeFull);
                tracing::warn!("event dropped: the queue in front of the plugin is full");
            }
            Err(TrySendError::Closed(_)) => self.metrics.event_dropped(EventDrop::Shutdown),
        }
    }

    pub fn is_on(&self) -> bool {
        self.switch.is_on()
    }

    /// Events waiting for the plugin.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

/// Builds the queued events in order, in batches of what is waiting.
pub struct Worker {
    pub pipeline: Arc<Pipeline>,
    pub outbox: Arc<Outbox>,
    pub switch: Arc<Switch>,
    pub metrics: Arc<Metrics>,
    /// Cleared when the worker ends, for `/healthz`.
    pub alive: Arc<AtomicBool>,
}

impl Worker {
    /// Builds events until stopped, then closes the intake and builds the
    /// events already queued until the shutdown deadline. Returns how many
    /// it left unbuilt.
    pub async fn run(self, mut events: mpsc::Receiver<Event>, mut shutdown: ShutdownSignal) -> u64 {
        let _alive = AliveFlag(Arc::clone(&self.alive));
        let deadline = loop {
            tokio::select! {
                biased;
                deadline = shutdown.wait() => break deadline,
                event = events.recv() => match event {
                    Some(event) => self.build(batch_from(event, &mut events)).await,
                    None => return 0,
                },
            }
        };
        // From here on, `submit` finds the intake closed and counts the drop.
        events.close();
        let mut abandoned = 0;
        while let Some(event) = events.recv().await {
            if Instant::now() < deadline {
                self.build(batch_from(event, &mut events)).await;
            } else {
                self.metrics.event_dropped(EventDrop::Shutdown);
                abandoned += 1;
            }
        }
        abandoned
    }

    async fn build(&self, batch: Vec<Event>) {
        // Checked again here: the events may have waited while telemetry went off.
        if !self.switch.is_on() {
            for _ in &batch {
                self.metrics.event_dropped(EventDrop::Disabled);
            }
            return;
        }
        let pipeline = Arc::clone(&self.pipeline);
        let started = Instant::now();
        let outcomes = tokio::task::spawn_blocking(move || pipeline.process_batch(batch)).await;
        self.metrics.plugin_called(started.elapsed());
        match outcomes {
            Ok(outcomes) => outcomes
                .into_iter()
                .for_each(|outcome| self.account(outcome)),
            Err(crash) => tracing::error!("building a batch of events crashed: {crash}"),
        }
    }

    fn account(&self, outcome: Outcome) {
        match outcome {
            Outcome::Ready(payload) => {
                self.metrics.payload_built(payload.route);
                self.outbox.enqueue(payload);
            }
            Outcome::Nothing => self.metrics.event_without_payload(),
            Outcome::Blocked(leak) => {
                self.metrics.payload_blocked();
                tracing::warn!("blocked: the payload carries {leak}; it is not sent");
            }
            Outcome::Failed(error) => {
                self.metrics.plugin_failed(&error);
                tracing::warn!("the plugin failed on an event: {error}");
            }
        }
    }
}

/// `first` and the events queued behind it, up to a batch: what is waiting
/// goes to the plugin together, and nothing waits for a batch to fill.
fn batch_from(first: Event, events: &mut mpsc::Receiver<Event>) -> Vec<Event> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match events.try_recv() {
            Ok(event) => batch.push(event),
            Err(_) => break,
        }
    }
    batch
}

/// Clears the flag when the worker ends, however it ends.
struct AliveFlag(Arc<AtomicBool>);

impl Drop for AliveFlag {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}
