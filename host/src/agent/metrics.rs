//! The agent's metrics, served at `GET /metrics` in the Prometheus text format
//! (version 0.0.4). Every name starts with `kamaji_telemetry_`.
//!
//! Every label value a series can take is created at start, at zero, so that
//! dashboards and `rate()` see the series before the first event.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::collectors::{ClusterCollector, DeliveryCollector, PluginCollector, SwitchCollector};
use super::switch::Switch;
use crate::cluster::ClusterHealth;
use crate::model::{Event, Route};
use crate::pipeline::Pipeline;
use crate::plugin::CallError;
use crate::transport::DeliveryStats;

/// The `Content-Type` of the answer to `GET /metrics`.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Label = [(&'static str, &'static str); 1];

/// Why an event was not handed to the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventDrop {
    /// The bounded queue in front of the plugin was full.
    IntakeFull,
    /// Telemetry is off (flag, environment or config file).
    Disabled,
    /// The shutdown deadline passed before the plugin got to it.
    Shutdown,
}

impl EventDrop {
    const ALL: [Self; 3] = [Self::IntakeFull, Self::Disabled, Self::Shutdown];

    fn as_str(self) -> &'static str {
        match self {
            Self::IntakeFull => "intake_full",
            Self::Disabled => "disabled",
            Self::Shutdown => "shutdown",
        }
    }
}

/// What a webhook call carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// A TenantControlPlane CREATE, UPDATE or DELETE.
    Event,
    /// An AdmissionReview with nothing to report (another kind, a CONNECT).
    NoEvent,
    /// Not an AdmissionReview: answered 400.
    Invalid,
}

impl Review {
    const ALL: [Self; 3] = [Self::Event, Self::NoEvent, Self::Invalid];

    fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::NoEvent => "no_event",
            Self::Invalid => "invalid",
        }
    }
}

/// The two queues of the agent.
#[derive(Debug, Clone, Copy)]
pub enum Queue {
    /// Events waiting for the plugin.
    Events,
    /// Payloads waiting for delivery.
    Payloads,
}

impl Queue {
    fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Payloads => "payloads",
        }
    }
}

const EVENT_KINDS: [&str; 4] = ["created", "updated", "deleted", "heartbeat"];
const ROUTES: [Route; 4] = [Route::Stats, Route::Create, Route::Update, Route::Delete];
/// How a plugin call can fail: the sandbox's reasons, then each kind of
/// `plugin-error` a plugin can answer with.
const PLUGIN_FAILURES: [&str; 10] = [
    "trap",
    "timeout",
    "memory_cap",
    "output_cap",
    "instantiate",
    "answer_count",
    "malformed_input",
    "unsupported_event",
    "internal",
    "untyped",
];
const OUTCOMES: [&str; 2] = ["succeeded", "failed"];
const RELOADS: [&str; 2] = ["applied", "invalid"];

/// Every metric of the agent. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    events_received: Family<Label, Counter>,
    events_dropped: Family<Label, Counter>,
    events_without_payload: Counter,
    webhook_reviews: Family<Label, Counter>,
    payloads_built: Family<Label, Counter>,
    payloads_blocked: Counter,
    plugin_calls: Histogram,
    plugin_failures: Family<Label, Counter>,
    plugin_swaps: Family<Label, Counter>,
    config_reloads: Family<Label, Counter>,
    queue_depth: Family<Label, Gauge>,
}

impl Metrics {
    /// Registers every metric. `delivery` holds the transport's counters
    /// (sent, retried, dropped, ...), `cluster` the watches' and the
    /// election's state (with `--events watch`), `switch` whether telemetry
    /// is on and what holds it off, and `plugin` the pipeline whose plugin
    /// is in use (`None` while telemetry is off for good), all read at each
    /// scrape (see [`super::collectors`]).
    pub fn new(
        delivery: Arc<DeliveryStats>,
        cluster: Option<Arc<ClusterHealth>>,
        switch: Arc<Switch>,
        plugin: Option<Arc<Pipeline>>,
    ) -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("kamaji_telemetry"),
            events_received: labelled("event", &EVENT_KINDS),
            events_dropped: labelled("reason", &EventDrop::ALL.map(EventDrop::as_str)),
            events_without_payload: Counter::default(),
            webhook_reviews: labelled("result", &Review::ALL.map(Review::as_str)),
            payloads_built: labelled("route", &ROUTES.map(Route::as_str)),
            payloads_blocked: Counter::default(),
            // 0.5 ms to 4 s: a small batch to past the default deadline (2 s).
            plugin_calls: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            plugin_failures: labelled("reason", &PLUGIN_FAILURES),
            plugin_swaps: labelled("result", &OUTCOMES),
            config_reloads: labelled("result", &RELOADS),
            queue_depth: labelled(
                "queue",
                &[Queue::Events, Queue::Payloads].map(Queue::as_str),
            ),
        };
        metrics.register();
        let registry = &mut metrics.registry;
        registry.register_collector(Box::new(DeliveryCollector(delivery)));
        registry.register_collector(Box::new(SwitchCollector(switch)));
        registry.register_collector(Box::new(PluginCollector(plugin)));
        if let Some(cluster) = cluster {
            registry.register_collector(Box::new(ClusterCollector(cluster)));
        }
        metrics
    }

    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "events_received",
            "Events handed to the agent, by webhook or heartbeat",
            self.events_received.clone(),
        );
        registry.register(
            "events_dropped",
            "Events that never reached the plugin",
            self.events_dropped.clone(),
        );
        registry.register(
            "events_without_payload",
            "Events for which the plugin had nothing to send",
            self.events_without_payload.clone(),
        );
        registry.register(
            "webhook_reviews",
            "Calls to POST /telemetry, by what they carried",
            self.webhook_reviews.clone(),
        );
        registry.register(
            "payloads_built",
            "Payloads the plugin built that passed the leak guard",
            self.payloads_built.clone(),
        );
        registry.register(
            "payloads_blocked",
            "Payloads the leak guard stopped because they carried an identifying string",
            self.payloads_blocked.clone(),
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Calls of the plugin, one per batch of events, and how long each took, leak guard included",
            self.plugin_calls.clone(),
        );
        registry.register(
            "plugin_failures",
            "Plugin calls that failed: traps, timeouts, caps, refusals",
            self.plugin_failures.clone(),
        );
        registry.register(
            "plugin_swaps",
            "Attempts to replace the running plugin",
            self.plugin_swaps.clone(),
        );
        registry.register(
            "config_reloads",
            "Changes of the --config file, applied or refused as invalid",
            self.config_reloads.clone(),
        );
        registry.register(
            "queue_depth",
            "Events waiting for the plugin, and payloads waiting for delivery",
            self.queue_depth.clone(),
        );
    }

    pub fn event_received(&self, event: &Event) {
        self.events_received
            .get_or_create(&[("event", event_kind(event))])
            .inc();
    }

    pub fn event_dropped(&self, reason: EventDrop) {
        self.events_dropped
            .get_or_create(&[("reason", reason.as_str())])
            .inc();
    }

    pub fn event_without_payload(&self) {
        self.events_without_payload.inc();
    }

    pub fn webhook_review(&self, review: Review) {
        self.webhook_reviews
            .get_or_create(&[("result", review.as_str())])
            .inc();
    }

    pub fn payload_built(&self, route: Route) {
        self.payloads_built
            .get_or_create(&[("route", route.as_str())])
            .inc();
    }

    pub fn payload_blocked(&self) {
        self.payloads_blocked.inc();
    }

    pub fn plugin_called(&self, took: Duration) {
        self.plugin_calls.observe(took.as_secs_f64());
    }

    pub fn plugin_failed(&self, error: &CallError) {
        let reason = match error {
            CallError::Trap(_) => "trap",
            CallError::Timeout(_) => "timeout",
            CallError::MemoryCap { .. } => "memory_cap",
            CallError::OutputTooLarge { .. } => "output_cap",
            CallError::Refused(error) => error.kind(),
            CallError::AnswerCount { .. } => "answer_count",
            CallError::Instantiate(_) => "instantiate",
        };
        self.plugin_failures
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    pub fn swap(&self, succeeded: bool) {
        let result = if succeeded { "succeeded" } else { "failed" };
        self.plugin_swaps.get_or_create(&[("result", result)]).inc();
    }

    pub fn config_reload(&self, applied: bool) {
        let result = if applied { "applied" } else { "invalid" };
        self.config_reloads
            .get_or_create(&[("result", result)])
            .inc();
    }

    pub fn set_queue_depth(&self, queue: Queue, depth: usize) {
        self.queue_depth
            .get_or_create(&[("queue", queue.as_str())])
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn labelled<M: Default + Clone>(key: &'static str, values: &[&'static str]) -> Family<Label, M> {
    let family = Family::<Label, M>::default();
    for value in values {
        // Creates the series at zero; the guard is not needed.
        let _ = family.get_or_create(&[(key, *value)]);
    }
    family
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Created(_) => "created",
        Event::Updated(_) => "updated",
        Event::Deleted(_) => "deleted",
        Event::Heartbeat(_) => "heartbeat",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optout::OptOut;

    #[test]
    fn every_series_is_there_from_the_start() {
        // An agent whose telemetry is off for good, by `--disable-telemetry`.
        let switch = Arc::new(Switch::off_for_good(OptOut::Flag));
        let metrics = Metrics::new(Arc::default(), None, switch, None);
        let text = metrics.encode().expect("encodes");
        for line in [
            "kamaji_telemetry_events_received_total{event=\"heartbeat\"} 0",
            "kamaji_telemetry_events_dropped_total{reason=\"intake_full\"} 0",
            "kamaji_telemetry_payloads_built_total{route=\"create\"} 0",
            "kamaji_telemetry_payloads_blocked_total 0",
            "kamaji_telemetry_payloads_sent_total 0",
            "kamaji_telemetry_payloads_retried_total 0",
            "kamaji_telemetry_payloads_dropped_total{reason=\"opt_out\"} 0",
            "kamaji_telemetry_plugin_failures_total{reason=\"timeout\"} 0",
            "kamaji_telemetry_plugin_swaps_total{result=\"failed\"} 0",
            "kamaji_telemetry_queue_depth{queue=\"payloads\"} 0",
            "kamaji_telemetry_telemetry_enabled 0",
            "kamaji_telemetry_opt_out{source=\"flag\",state=\"opted_out\"} 1",
            "kamaji_telemetry_opt_out{source=\"kamaji-controller\",state=\"unknown\"} 0",
            "kamaji_telemetry_opt_out{source=\"config-file\",state=\"opted_out\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
