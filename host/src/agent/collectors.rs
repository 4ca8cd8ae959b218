//! What the metrics read at each scrape rather than copy: the delivery
//! counters, whether telemetry is on, the cluster side's state and the
//! plugin in use. Each is read from its one owner, so a scrape can never see
//! a value that drifted from it, or two values that disagree.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::switch::Switch;
use crate::cluster::{ClusterHealth, Resource};
use crate::optout::RuntimeSource;
use crate::pipeline::Pipeline;
use crate::transport::DeliveryStats;

/// The transport's own counters, read at each scrape rather than copied, so
/// they can never drift from what the transport and its queue counted.
#[derive(Debug)]
pub struct DeliveryCollector(pub Arc<DeliveryStats>);

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
        let durations = encoder.encode_descriptor(
            "delivery_duration_seconds",
            "From a payload's first attempt to its outcome (sent, rejected, given up), retries included",
            None,
            MetricType::Histogram,
        )?;
        self.0.delivery_seconds().encode(durations)?;
        Ok(())
    }
}

/// The Kubernetes API's answers that the agent handles: no permission, no
/// such resource, a watch expired, throttled, the server failing; and no
/// answer at all.
const EXPECTED_API_ERRORS: [&str; 7] = ["403", "404", "410", "429", "500", "503", "transport"];

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
pub struct SwitchCollector(pub Arc<Switch>);

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
pub struct ClusterCollector(pub Arc<ClusterHealth>);

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
        // The codes an agent meets in practice are there from the start, at
        // zero, so that dashboards and `rate()` see them before the first error.
        let mut counts: BTreeMap<String, u64> = EXPECTED_API_ERRORS
            .iter()
            .map(|code| ((*code).to_owned(), 0))
            .collect();
        counts.extend(health.api_errors());
        for (code, count) in counts {
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

/// The plugin in use, read at each scrape from the pipeline, where the
/// events read it too: a scrape never shows a plugin under the labels of
/// the one before it. `None` while telemetry is off for good: no plugin is
/// loaded, and the metric has no series.
pub struct PluginCollector(pub Option<Arc<Pipeline>>);

impl fmt::Debug for PluginCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginCollector").finish_non_exhaustive()
    }
}

impl Collector for PluginCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut info = encoder.encode_descriptor(
            "plugin_info",
            "The plugin in use: always 1; its name, version, SHA-256 and OCI manifest digest as labels",
            None,
            MetricType::Gauge,
        )?;
        let Some(pipeline) = &self.0 else {
            return Ok(());
        };
        let plugin = pipeline.plugin().info();
        let labels = [
            ("name", plugin.name),
            ("version", plugin.version),
            ("contract", plugin.contract.to_string()),
            ("digest", plugin.digest),
            // Empty (so, to Prometheus, absent) for a plugin read from a file.
            ("oci_digest", plugin.oci_digest.unwrap_or_default()),
        ];
        ConstGauge::new(1).encode(info.encode_family(&labels)?)
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::model::Installation;
    use crate::plugin::{PluginArtifact, PluginRuntime, SandboxLimits};

    fn scrape(collector: impl Collector) -> String {
        let mut registry = Registry::with_prefix("kamaji_telemetry");
        registry.register_collector(Box::new(collector));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .expect("encodes");
        text
    }

    #[test]
    fn the_cluster_series_are_there_from_the_start_but_the_age_of_no_event() {
        let text = scrape(ClusterCollector(Arc::default()));
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
    fn delivery_counters_are_read_live() {
        let stats = Arc::new(DeliveryStats::default());
        let collector = DeliveryCollector(Arc::clone(&stats));
        let text = scrape(DeliveryCollector(Arc::clone(&stats)));
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
        let text = scrape(collector);
        assert!(
            text.contains("kamaji_telemetry_payloads_sent_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("kamaji_telemetry_payloads_dropped_total{reason=\"opt_out\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn the_plugin_info_is_the_plugin_the_pipeline_runs() {
        let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("engine");
        let pulled_as = |digest: &str| {
            let mut artifact = PluginArtifact::embedded();
            artifact.oci_digest = Some(digest.into());
            runtime.load_artifact(&artifact).expect("it loads")
        };
        let pipeline = Arc::new(Pipeline::new(
            pulled_as("sha256:01"),
            Installation::default(),
        ));
        let collector = PluginCollector(Some(Arc::clone(&pipeline)));
        pipeline.swap(Arc::new(pulled_as("sha256:02")));
        let text = scrape(collector);
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("kamaji_telemetry_plugin_info{"))
            .collect();
        let [series] = series.as_slice() else {
            panic!("one plugin_info series in\n{text}");
        };
        assert!(
            series.starts_with("kamaji_telemetry_plugin_info{name=\"kamaji-telemetry-default\","),
            "{series}"
        );
        assert!(series.ends_with(",oci_digest=\"sha256:02\"} 1"), "{series}");
    }

    #[test]
    fn without_a_plugin_the_plugin_info_has_no_series() {
        let text = scrape(PluginCollector(None));
        assert!(
            text.contains("# TYPE kamaji_telemetry_plugin_info gauge"),
            "{text}"
        );
        assert!(!text.contains("kamaji_telemetry_plugin_info{"), "{text}");
    }
}
