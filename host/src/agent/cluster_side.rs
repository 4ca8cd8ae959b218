//! The agent's cluster side: while telemetry is on, it reads the
//! installation, watches TenantControlPlanes and DataStores, takes part in
//! the leader election, and beats from the watch's store. Only the leader
//! hands events (with `--events watch`) and heartbeats to the plugin; a
//! follower keeps its store warm so that it can take over at once.
//!
//! While telemetry is off (the runtime config file), none of it runs: no
//! watch, no Lease, no API call. Turning telemetry on starts it all again,
//! from a fresh list (whose objects are not events: see `cluster::fleet`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::watch as state;

use super::config::ClusterSettings;
use super::intake::Intake;
use super::signals::ShutdownSignal;
use super::switch::Switch;
use crate::cluster::kamaji_switch;
use crate::cluster::{
    ClusterHealth, Election, EventSink, FleetWatch, InstallationReader, KamajiDeployment,
};
use crate::model::{Event, Fleet};
use crate::optout::RuntimeSource;
use crate::pipeline::Pipeline;

/// How often a replica waiting to beat checks whether it synced and leads:
/// two independent conditions, cheap to read, and a quarter second is
/// nothing against a heartbeat interval of minutes.
const READY_POLL: Duration = Duration::from_millis(250);

/// What the cluster side works with.
pub struct ClusterSide {
    pub client: Client,
    pub settings: ClusterSettings,
    pub health: Arc<ClusterHealth>,
    pub intake: Intake,
    pub pipeline: Arc<Pipeline>,
    pub heartbeat_interval: Duration,
}

/// Follows Kamaji's own opt-out on its controller's Deployment, whatever
/// the state of telemetry: it is what turns telemetry back on.
pub async fn follow_kamaji(client: Client, deployment: KamajiDeployment, switch: Arc<Switch>) {
    kamaji_switch::follow(client, deployment, |verdict| {
        switch.set(RuntimeSource::KamajiController, verdict);
    })
    .await;
}

/// Runs a session each time telemetry turns on, and ends it when telemetry
/// turns off, until the agent stops.
pub async fn run(
    side: ClusterSide,
    mut switch: state::Receiver<bool>,
    mut shutdown: ShutdownSignal,
) {
    loop {
        tokio::select! {
            on = switch.wait_for(|on| *on) => if on.is_err() { return },
            _ = shutdown.wait() => return,
        }
        tracing::info!("watching the cluster");
        let ended = async {
            tokio::select! {
                off = switch.wait_for(|on| !*on) => off.is_ok(),
                _ = shutdown.wait() => false,
            }
        };
        if !session(&side, ended).await {
            return;
        }
        tracing::info!("telemetry is off: the watches and the leader election are stopped");
    }
}

/// One session, until `ended` resolves (to whether the agent goes on):
/// then the watches stop and a leader gives up its Lease.
async fn session(side: &ClusterSide, ended: impl Future<Output = bool>) -> bool {
    let reader = InstallationReader::new(
        side.client.clone(),
        side.settings.overrides.clone(),
        side.settings.kamaji_deployment.clone(),
        Arc::clone(&side.health),
    );
    let sink = side.settings.watch_events.then(|| leader_sink(side));
    let reads = side.pipeline.reads();
    let watch = FleetWatch::start(&side.client, Arc::clone(&side.health), reads, sink);
    let election = Election::start(
        side.client.clone(),
        side.settings.lease.clone(),
        Arc::clone(&side.health),
    );
    let goes_on = tokio::select! {
        goes_on = ended => goes_on,
        never = beat(side, &reader, &watch) => match never {},
    };
    drop(watch);
    election.resign().await;
    goes_on
}

/// Beats once the watches have synced and this replica leads, then every
/// interval while it leads.
async fn beat(
    side: &ClusterSide,
    reader: &InstallationReader,
    watch: &FleetWatch,
) -> std::convert::Infallible {
    side.pipeline.set_installation(reader.read().await);
    loop {
        let fleet = ready_fleet(side, watch).await;
        side.pipeline.set_installation(reader.read().await);
        side.intake.submit(Event::Heartbeat(fleet));
        tokio::time::sleep(jittered(side.heartbeat_interval)).await;
    }
}

/// The fleet, once this replica leads and the watches hold a complete one
/// with what the current plugin reads.
async fn ready_fleet(side: &ClusterSide, watch: &FleetWatch) -> Fleet {
    loop {
        if side.health.is_leader()
            && let Some(fleet) = watch.fleet()
        {
            return fleet;
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Hands a watch event to the plugin when this replica leads; a follower
/// only keeps its store.
fn leader_sink(side: &ClusterSide) -> EventSink {
    let (health, intake) = (Arc::clone(&side.health), side.intake.clone());
    Arc::new(move |event| {
        if health.is_leader() {
            intake.submit(event);
        }
    })
}

/// The interval, give or take 10%: the agents of many clusters, installed
/// at the same time, do not all beat in the same second.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::random_range(0.9..1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        let interval = Duration::from_secs(300);
        for _ in 0..1000 {
            let beat = jittered(interval);
            assert!(beat >= Duration::from_secs(270) && beat <= Duration::from_secs(330));
        }
    }
}
