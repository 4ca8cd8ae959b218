//! Whether telemetry is on: the one owner of that state.
//!
//! The absolute opt-outs (flag, environment) are decided before anything
//! starts. The runtime sources (the `--config` file, Kamaji's controller)
//! each report a [`Verdict`] here as they change; telemetry is on while
//! every one of them allows it, and off while any opts out or cannot be read.
//!
//! A change is applied in one place, in an order that lets nothing through:
//! off is published before the delivery queue is paused (so no event is
//! built meanwhile), and on only after it is resumed (so the first event
//! after it finds somewhere to go). What follows the state (the intake, the
//! worker, the cluster watches) reads it from here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch as state;

use super::outbox::Outbox;
use crate::optout::{OptOut, RuntimeSource, Verdict};

#[derive(Debug)]
pub struct Switch {
    on: state::Sender<bool>,
    /// What holds telemetry off for good, if anything: then nothing else counts.
    absolute: Option<OptOut>,
    verdicts: Mutex<BTreeMap<RuntimeSource, Verdict>>,
    /// Paused when telemetry turns off, resumed when it turns on; `None`
    /// while off for good.
    outbox: Option<Arc<Outbox>>,
}

impl Switch {
    /// Telemetry off for good: no source is followed, no queue exists.
    pub fn off_for_good(source: OptOut) -> Self {
        Self {
            on: state::Sender::new(false),
            absolute: Some(source),
            verdicts: Mutex::default(),
            outbox: None,
        }
    }

    /// Follows `sources`, each starting from its verdict; the state is what
    /// they say together. Off at start pauses `outbox`.
    pub fn new(sources: Vec<(RuntimeSource, Verdict)>, outbox: Arc<Outbox>) -> Self {
        let verdicts: BTreeMap<_, _> = sources.into_iter().collect();
        let on = verdicts.values().all(Verdict::allows);
        for (source, verdict) in &verdicts {
            log_verdict(*source, verdict);
        }
        if !on {
            outbox.pause();
        }
        Self {
            on: state::Sender::new(on),
            absolute: None,
            verdicts: Mutex::new(verdicts),
            outbox: Some(outbox),
        }
    }

    pub fn is_on(&self) -> bool {
        *self.on.borrow()
    }

    /// Each change of the state, for what runs only while telemetry is on.
    pub fn changes(&self) -> state::Receiver<bool> {
        self.on.subscribe()
    }

    /// Records what `source` says now and applies the change, if any. A
    /// verdict that differs from the source's last one is logged once.
    pub fn set(&self, source: RuntimeSource, verdict: Verdict) {
        let mut verdicts = self.verdicts();
        if self.absolute.is_some() || !verdicts.contains_key(&source) {
            return;
        }
        if verdicts.get(&source) == Some(&verdict) {
            return;
        }
        log_verdict(source, &verdict);
        verdicts.insert(source, verdict);
        let on = verdicts.values().all(Verdict::allows);
        // Applied under the lock: two sources changing at once cannot
        // interleave an "on" and an "off".
        self.apply(on);
    }

    fn apply(&self, on: bool) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        if self.is_on() == on {
            return;
        }
        if on {
            outbox.resume();
            self.on.send_replace(true);
            tracing::info!("telemetry is on");
        } else {
            self.on.send_replace(false);
            let dropped = outbox.pause();
            tracing::info!(
                dropped,
                "telemetry is off: {dropped} queued payloads dropped, nothing more is sent"
            );
        }
    }

    /// Each source that holds telemetry off now, and why: the absolute one,
    /// or every runtime source that opts out or cannot be read.
    pub fn holding_off(&self) -> Vec<(&'static str, Hold)> {
        if let Some(source) = &self.absolute {
            return vec![(source.source(), Hold::OptedOut(source.to_string()))];
        }
        self.verdicts()
            .iter()
            .filter_map(|(source, verdict)| {
                let hold = match verdict {
                    Verdict::Allows => return None,
                    Verdict::OptsOut(by) => Hold::OptedOut(by.to_string()),
                    Verdict::Unknown(why) => Hold::Unknown(why.clone()),
                };
                Some((source.as_str(), hold))
            })
            .collect()
    }

    fn verdicts(&self) -> MutexGuard<'_, BTreeMap<RuntimeSource, Verdict>> {
        // A poisoned lock holds valid data: every update is one insert.
        self.verdicts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a source holds telemetry off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    OptedOut(String),
    Unknown(String),
}

impl Hold {
    /// The metric's label.
    pub fn state(&self) -> &'static str {
        match self {
            Self::OptedOut(_) => "opted_out",
            Self::Unknown(_) => "unknown",
        }
    }
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OptedOut(by) => write!(f, "disabled by {by}"),
            Self::Unknown(why) => write!(f, "whether the user opted out is unknown: {why}"),
        }
    }
}

fn log_verdict(source: RuntimeSource, verdict: &Verdict) {
    let source = source.as_str();
    match verdict {
        Verdict::Allows => tracing::info!(source, "{source} allows telemetry"),
        Verdict::OptsOut(by) => tracing::info!(source, "telemetry is disabled by {by}"),
        Verdict::Unknown(why) => tracing::warn!(
            source,
            "telemetry stays off until {source} can be read: {why}"
        ),
    }
}
