//! The agent's metrics, served at `GET /metrics` in the Prometheus text format
//! (version 0.0.4). Every name starts with `kamaji_telemetry_`.
//!
//! Every label value a series can take is created at start, at zero, so that
//! dashboards and `rate()` see the series before the first event.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::switch::Switch;
use crate::cluster::{ClusterHealth, Resource};
use crate::model::{Event, Route};
use crate::optout::RuntimeSource;
use crate::plugin::{CallError, PluginInfo};
use crate::transport::DeliveryStats;

/// The `Content-Type` of the answer to `GET /metrics`.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Label = [(&'static str, &'static str); 1];
type PluginLabels = [(&'static str, String); 5];

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
    plugin_failures: Family<Label, Counter>,
    plugin_swaps: Family<Label, Counter>,
    config_reloads: Family<Label, Counter>,
    queue_depth: Family<Label, Gauge>,
    plugin_info: Family<PluginLabels, Gauge>,
    /// The label set of `plugin_info` now, to remove it when the plugin changes.
    current_plugin: Mutex<Option<PluginLabels>>,
}

impl Metrics {
    /// Registers every metric. `delivery` holds the transport's counters
    /// (sent, retried, dropped, ...), `cluster` the watches' and the
    /// election's state (with `--events watch`), and `switch` whether
    /// telemetry is on and what holds it off, all read at each scrape.
    pub fn new(
        delivery: Arc<DeliveryStats>,
        cluster: Option<Arc<ClusterHealth>>,
        switch: Arc<Switch>,
    ) -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("kamaji_telemetry"),
            events_received: labelled("event", &EVENT_KINDS),
            events_dropped: labelled("reason", &EventDrop::ALL.map(EventDrop::as_str)),
            events_without_payload: Counter::default(),
            webhook_reviews: labelled("result", &Review::ALL.map(Review::as_str)),
            payloads_built: labelled("route", &ROUTES.map(Route::as_str)),
            payloads_blocked: Counter::default(),
            plugin_failures: labelled("reason", &PLUGIN_FAILURES),
            plugin_swaps: labelled("result", &OUTCOMES),
            config_reloads: labelled("result", &RELOADS),
            queue_depth: labelled(
                "queue",
                &[Queue::Events, Queue::Payloads].map(Queue::as_str),
            ),
            plugin_info: Family::default(),
            current_plugin: Mutex::new(None),
        };
        metrics.register(delivery);
        metrics
            .registry
            .register_collector(Box::new(SwitchCollector(switch)));
        if let Some(cluster) = cluster {
            metrics
                .registry
                .register_collector(Box::new(ClusterCollector(cluster)));
        }
        metrics
    }

    fn register(&mut self, delivery: Arc<DeliveryStats>) {
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
        registry.register(
            "plugin_info",
            "The plugin in use: always 1; its name, version, SHA-256 and OCI manifest digest as labels",
            self.plugin_info.clone(),
        );
        registry.register_collector(Box::new(DeliveryCollector(delivery)));
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

    /// Shows `plugin` in `plugin_info`. The new series is set before the old
    /// one is removed, so a scrape never finds no plugin at all.
    pub fn set_plugin(&self, plugin: &PluginInfo) {
        let labels: PluginLabels = [
            ("name", plugin.name.clone()),
            ("version", plugin.version.clone()),
            ("contract", plugin.contract.to_string()),
            ("digest", plugin.digest.clone()),
            // Empty (so, to Prometheus, absent) for a plugin read from a file.
            ("oci_digest", plugin.oci_digest.clone().unwrap_or_default()),
        ];
        self.plugin_info.get_or_create(&labels).set(1);
        let mut current = self
            .current_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(previous) = current.replace(labels.clone())
            && previous != labels
        {
            self.plugin_info.remove(&previous);
        }
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

/// The transport's own counters, read at each scrape rather than copied, so
/// they can never drift from what the transport and its queue counted.
#[derive(Debug)]
struct DeliveryCollector(Arc<DeliveryStats>);

impl Collector for DeliveryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stats = self.0.snapshot();
        let counters = [
            (
                "payloads_sent",
                "Payloads the endpoint accepted (2xx)",
                stats.sent,
            ),
            (
                "payloads_retried",
                "Retry attempts: a payload sent on its third try counts two",
                stats.retried,
            ),
            (
                "payloads_rejected",
                "Payloads the endpoint refused with a final status",
                stats.rejected,
            ),
            (
                "payloads_failed",
                "Payloads given up on: retry budget spent, or an error retrying cannot fix",
                stats.failed,
            ),
            (
                "payloads_recorded",
                "Payloads written to the --local-dir in local mode, instead of being sent",
                stats.recorded,
            ),
        ];
        for (name, help, value) in counters {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(metric)?;
        }
        let mut dropped = encoder.encode_descriptor(
            "payloads_dropped",
            "Payloads not delivered: queue full, telemetry switched off, or left at shutdown",
            None,
            MetricType::Counter,
        )?;
        let reasons = [
            ("queue_full", stats.dropped_queue_full),
            ("opt_out", stats.dropped_opt_out),
            ("shutdown", stats.left_at_shutdown),
        ];
        for (reason, value) in reasons {
            ConstCounter::new(value).encode(dropped.encode_family(&[("reason", reason)])?)?;
        }
        Ok(())
    }
}

/// Every opt-out source, as the `source` label of `opt_out`.
const OPT_OUT_SOURCES: [&str; 5] = [
    "flag",
    "environment",
    "do-not-track",
    RuntimeSource::ConfigFile.as_str(),
    RuntimeSource::KamajiController.as_str(),
];
/// Why a source holds telemetry off, as the `state` label of `opt_out`.
const OPT_OUT_STATES: [&str; 2] = ["opted_out", "unknown"];

/// Whether telemetry is on, and what holds it off, read at each scrape from
/// the switch itself: a scrape cannot see one without the other.
#[derive(Debug)]
struct SwitchCollector(Arc<Switch>);

impl Collector for SwitchCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let holds = self.0.holding_off();
        let enabled = encoder.encode_descriptor(
            "telemetry_enabled",
            "1 while telemetry is on, 0 while it is off",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(self.0.is_on())).encode(enabled)?;
        let mut opt_out = encoder.encode_descriptor(
            "opt_out",
            "1 while this source holds telemetry off: the user opted out there, or it cannot be read (unknown)",
            None,
            MetricType::Gauge,
        )?;
        for source in OPT_OUT_SOURCES {
            for state in OPT_OUT_STATES {
                let holding = holds
                    .iter()
                    .any(|(held_by, hold)| *held_by == source && hold.state() == state);
                ConstGauge::new(i64::from(holding))
                    .encode(opt_out.encode_family(&[("source", source), ("state", state)])?)?;
            }
        }
        Ok(())
    }
}

/// The watches' and the election's state, read at each scrape.
#[derive(Debug)]
struct ClusterCollector(Arc<ClusterHealth>);

impl Collector for ClusterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let health = &self.0;
        let watches = Resource::ALL.map(|resource| (resource.plural(), health.watch(resource)));
        let mut synced = encoder.encode_descriptor(
            "watch_synced",
            "1 once the watch holds a complete list of its resource, 0 before or while it is stopped",
            None,
            MetricType::Gauge,
        )?;
        for (resource, watch) in &watches {
            let value = ConstGauge::new(i64::from(watch.is_synced()));
            value.encode(synced.encode_family(&[("resource", *resource)])?)?;
        }
        let mut relists = encoder.encode_descriptor(
            "watch_relists",
            "Complete lists after the first one: the watch expired (410 Gone) or could not resume",
            None,
            MetricType::Counter,
        )?;
        for (resource, watch) in &watches {
            let value = ConstCounter::new(watch.relists());
            value.encode(relists.encode_family(&[("resource", *resource)])?)?;
        }
        let mut age = encoder.encode_descriptor(
            "watch_last_event_age_seconds",
            "Seconds since the watch last delivered an object, a deletion or a list; absent before the first",
            None,
            MetricType::Gauge,
        )?;
        for (resource, watch) in &watches {
            if let Some(seconds) = watch.last_event_age() {
                ConstGauge::new(seconds).encode(age.encode_family(&[("resource", *resource)])?)?;
            }
        }
        let mut errors = encoder.encode_descriptor(
            "kube_api_errors",
            "Failed calls to the Kubernetes API, by HTTP status code (transport: no answer)",
            None,
            MetricType::Counter,
        )?;
        for (code, count) in health.api_errors() {
            ConstCounter::new(count).encode(errors.encode_family(&[("code", code.as_str())])?)?;
        }
        let leader = encoder.encode_descriptor(
            "leader",
            "1 while this replica holds the Lease and sends, 0 while it follows",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(health.is_leader())).encode(leader)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optout::OptOut;
    use crate::plugin::ContractVersion;

    /// Metrics of an agent whose telemetry is off for good, by `--disable-telemetry`.
    fn metrics(delivery: Arc<DeliveryStats>, cluster: Option<Arc<ClusterHealth>>) -> Metrics {
        Metrics::new(
            delivery,
            cluster,
            Arc::new(Switch::off_for_good(OptOut::Flag)),
        )
    }

    fn info(version: &str) -> PluginInfo {
        PluginInfo {
            name: "p".into(),
            version: version.into(),
            contract: ContractVersion::V0_2_0,
            digest: "d".into(),
            oci_digest: Some("sha256:0d".into()),
        }
    }

    #[test]
    fn every_series_is_there_from_the_start() {
        let text = metrics(Arc::default(), None).encode().expect("encodes");
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

    #[test]
    fn the_cluster_series_are_there_from_the_start_but_the_age_of_no_event() {
        let health = Arc::new(ClusterHealth::default());
        let text = metrics(Arc::default(), Some(health))
            .encode()
            .expect("encodes");
        for line in [
            "kamaji_telemetry_watch_synced{resource=\"tenantcontrolplanes\"} 0",
            "kamaji_telemetry_watch_synced{resource=\"datastores\"} 0",
            "kamaji_telemetry_watch_relists_total{resource=\"datastores\"} 0",
            "kamaji_telemetry_leader 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(!text.contains("watch_last_event_age_seconds{"), "{text}");
    }

    #[test]
    fn the_plugin_info_follows_the_plugin() {
        let metrics = metrics(Arc::default(), None);
        metrics.set_plugin(&info("1.0.0"));
        metrics.set_plugin(&info("1.0.0"));
        metrics.set_plugin(&info("2.0.0"));
        let text = metrics.encode().expect("encodes");
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("kamaji_telemetry_plugin_info{"))
            .collect();
        assert_eq!(
            series,
            [
                "kamaji_telemetry_plugin_info{name=\"p\",version=\"2.0.0\",contract=\"0.2.0\",digest=\"d\",oci_digest=\"sha256:0d\"} 1"
            ]
        );
    }

    #[test]
    fn delivery_counters_are_read_live() {
        let stats = Arc::new(DeliveryStats::default());
        let metrics = metrics(stats.clone(), None);
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains("# TYPE kamaji_telemetry_payloads_sent_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("kamaji_telemetry_payloads_sent_total 0\n"),
            "{text}"
        );
        stats.add(crate::transport::Counter::Sent, 3);
        stats.add(crate::transport::Counter::DroppedOptOut, 2);
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains("kamaji_telemetry_payloads_sent_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("kamaji_telemetry_payloads_dropped_total{reason=\"opt_out\"} 2\n"),
            "{text}"
        );
    }
}
