//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's
//! rules: the holder renews the Lease every retry period; another replica
//! may take it only once it has seen the same holder and renew time for a
//! whole lease duration, measured on its own clock (so clock skew between
//! nodes does not matter); every write carries the `resourceVersion` it
//! read, so of two replicas racing for it the API server lets one win (the
//! other gets 409 Conflict). A leader that cannot renew steps down before
//! its lease can expire for the others.
//!
//! Why not the `kube-lease-manager` crate (whose kube version matches):
//! it relies on server-side apply's field ownership to exclude concurrent
//! holders; the optimistic concurrency used here is what client-go and
//! kube-rs's own examples do, and it is exactly the part of the API
//! protocol the tests' fake API server implements.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;

use super::health::ClusterHealth;
use super::installation::advice;

/// The Lease of the agent's replicas.
pub const DEFAULT_LEASE_NAME: &str = "kamaji-telemetry";

/// Which Lease, and who this replica is.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// Unique per replica: the pod name.
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
}

impl LeaseConfig {
    /// client-go's ratio (15 s lease, 2 s retry): several tries per lease.
    fn retry_period(&self) -> Duration {
        self.duration / 5
    }

    /// client-go's ratio (15 s lease, 10 s deadline): a leader that has not
    /// renewed for this long stops acting before anyone else may start.
    fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }
}

/// This replica's part in the election, running until dropped.
pub struct Election {
    task: tokio::task::JoinHandle<()>,
    api: Api<Lease>,
    config: LeaseConfig,
    health: Arc<ClusterHealth>,
}

impl Election {
    /// Starts taking part, keeping `health.is_leader()` current.
    pub fn start(client: Client, config: LeaseConfig, health: Arc<ClusterHealth>) -> Self {
        let api = Api::namespaced(client, &config.namespace);
        let task = tokio::spawn(run(api.clone(), config.clone(), Arc::clone(&health)));
        Self {
            task,
            api,
            config,
            health,
        }
    }
}

impl Election {
    /// Stops taking part; a leader gives the Lease up, so that another
    /// replica takes over without waiting for it to expire (client-go's
    /// ReleaseOnCancel).
    pub async fn resign(self) {
        let was_leader = self.health.is_leader();
        self.task.abort();
        self.health.set_leader(false);
        if !was_leader {
            return;
        }
        let lease = &self.config.name;
        match release(&self.api, &self.config).await {
            Ok(()) => tracing::info!(%lease, "gave up the leadership"),
            Err(error) => tracing::warn!(
                %lease,
                "cannot give up the Lease, it expires in {:?}: {error}",
                self.config.duration
            ),
        }
    }
}

impl Drop for Election {
    /// However the election ends, this replica stops acting as the leader.
    fn drop(&mut self) {
        self.task.abort();
        self.health.set_leader(false);
    }
}

/// Clears the holder, if it is still this replica.
async fn release(api: &Api<Lease>, config: &LeaseConfig) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    api.replace(&config.name, &PostParams::default(), &lease)
        .await
        .map(drop)
}

async fn run(api: Api<Lease>, config: LeaseConfig, health: Arc<ClusterHealth>) {
    let mut elector = Elector {
        api,
        config,
        observed: None,
        renewed: None,
    };
    let mut ticker = tokio::time::interval(elector.config.retry_period());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let leader = match elector.try_acquire_or_renew().await {
            Ok(true) => true,
            Ok(false) => {
                elector.renewed = None;
                false
            }
            Err(error) => {
                health.api_error(&error);
                tracing::warn!(
                    lease = %elector.config.name,
                    "cannot read or write the Lease: {error}{}",
                    advice(&error)
                );
                elector.still_within_deadline()
            }
        };
        if leader != health.is_leader() {
            tracing::info!(
                identity = %elector.config.identity,
                "{}",
                if leader { "became the leader" } else { "is not the leader" }
            );
        }
        health.set_leader(leader);
    }
}

struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The holder and renew time last seen, and when they were first seen.
    observed: Option<(Option<String>, Option<MicroTime>, Instant)>,
    /// When this replica last took or renewed the lease.
    renewed: Option<Instant>,
}

impl Elector {
    /// One round: `Ok(true)` when this replica holds the lease now.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return self.create().await;
        };
        let spec = lease.spec.take().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.config.identity.as_str());
        if !ours && holder.is_some() && !self.expired(&spec) {
            return Ok(false);
        }
        lease.spec = Some(self.claim(spec, ours));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(self.renewed_now()),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn create(&mut self) -> Result<bool, kube::Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(self.claim(LeaseSpec::default(), false)),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(self.renewed_now()),
            // Another replica created it first: it holds it.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The spec that makes this replica the holder, renewed now.
    fn claim(&self, spec: LeaseSpec, ours: bool) -> LeaseSpec {
        let now = Some(MicroTime(Timestamp::now()));
        let seconds = i32::try_from(self.config.duration.as_secs().max(1)).unwrap_or(i32::MAX);
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(seconds),
            renew_time: now.clone(),
            acquire_time: if ours { spec.acquire_time } else { now },
            lease_transitions: Some(spec.lease_transitions.unwrap_or(0) + if ours { 0 } else { 1 }),
            ..spec
        }
    }

    /// Whether the other holder has left the lease unrenewed for its
    /// duration, as seen on this replica's clock.
    fn expired(&mut self, spec: &LeaseSpec) -> bool {
        let record = (spec.holder_identity.clone(), spec.renew_time.clone());
        let seen_at = match &self.observed {
            Some((holder, renewed, at)) if (holder, renewed) == (&record.0, &record.1) => *at,
            _ => {
                let now = Instant::now();
                self.observed = Some((record.0, record.1, now));
                now
            }
        };
        let duration = spec
            .lease_duration_seconds
            .and_then(|seconds| u64::try_from(seconds).ok())
            .map_or(self.config.duration, Duration::from_secs);
        seen_at.elapsed() > duration
    }

    fn renewed_now(&mut self) -> bool {
        self.renewed = Some(Instant::now());
        true
    }

    /// After a failed round: still the leader while the last renewal is
    /// recent enough that nobody else can have taken over.
    fn still_within_deadline(&self) -> bool {
        self.renewed
            .is_some_and(|at| at.elapsed() < self.config.renew_deadline())
    }
}
