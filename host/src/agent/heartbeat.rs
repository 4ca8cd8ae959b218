//! The heartbeat: at start, then every interval, one event over the latest
//! fleet snapshot. No snapshot, no heartbeat.
//!
//! The snapshot is a `List` as `kubectl get tenantcontrolplanes,datastores -A
//! -o json` prints it, either read from `--fleet-file` at every beat or
//! posted to `POST /v1/fleet` by whatever watches the cluster.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::time::MissedTickBehavior;

use super::intake::Intake;
use crate::kube::{self, DecodeError};
use crate::model::{Event, Fleet};

/// Why a body or file is not a fleet snapshot.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("no document: expected one List of TenantControlPlanes and DataStores")]
    Empty,
    #[error("more than one document: expected one List of TenantControlPlanes and DataStores")]
    SeveralDocuments,
    #[error("not a List of TenantControlPlanes and DataStores")]
    NotAList,
}

/// Reads one snapshot: a JSON or YAML `List` (or typed list) of
/// TenantControlPlanes and DataStores, as the `kube` module decodes it.
pub fn decode_fleet(bytes: &[u8]) -> Result<Fleet, FleetError> {
    let mut documents = kube::decode_stream(bytes);
    let first = documents.next().ok_or(FleetError::Empty)??;
    if documents.next().is_some() {
        return Err(FleetError::SeveralDocuments);
    }
    match first.event {
        Event::Heartbeat(fleet) => Ok(fleet),
        _ => Err(FleetError::NotAList),
    }
}

/// The last snapshot posted to `POST /v1/fleet`.
#[derive(Debug, Default)]
pub struct FleetInbox(ArcSwapOption<Fleet>);

impl FleetInbox {
    pub fn put(&self, fleet: Fleet) {
        self.0.store(Some(Arc::new(fleet)));
    }

    fn latest(&self) -> Option<Fleet> {
        self.0.load_full().map(|fleet| Fleet::clone(&fleet))
    }
}

/// Where the heartbeat's snapshot comes from.
pub enum FleetSource {
    /// `--fleet-file`, read again at every beat.
    File(PathBuf),
    /// The last `POST /v1/fleet`.
    Posted(Arc<FleetInbox>),
}

impl FleetSource {
    /// The snapshot for this beat. A file that cannot be read or decoded
    /// gives none (a stale snapshot would report a fleet that is gone).
    async fn snapshot(&self) -> Option<Fleet> {
        let path = match self {
            Self::Posted(inbox) => return inbox.latest(),
            Self::File(path) => path.clone(),
        };
        let read = tokio::task::spawn_blocking(move || -> Result<Fleet, String> {
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            decode_fleet(&bytes).map_err(|e| format!("{}: {e}", path.display()))
        })
        .await;
        match read {
            Ok(Ok(fleet)) => Some(fleet),
            Ok(Err(error)) => {
                tracing::warn!("no heartbeat: the fleet file is unusable: {error}");
                None
            }
            Err(crash) => {
                tracing::error!("no heartbeat: reading the fleet file crashed: {crash}");
                None
            }
        }
    }
}

/// Beats at start and every `interval`, until the task is aborted. Each beat
/// is handed to the intake like any event, so the plugin worker builds it.
pub async fn run(source: FleetSource, interval: Duration, intake: Intake) {
    let mut ticker = tokio::time::interval(interval);
    // After a stall, beat once and go on at the interval, rather than in a burst.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !intake.is_on() {
            continue;
        }
        match source.snapshot().await {
            Some(fleet) => intake.submit(Event::Heartbeat(fleet)),
            None => tracing::debug!("no fleet snapshot yet: no heartbeat"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_a_fleet() {
        let list = br#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
             "metadata": {"name": "a"}},
            {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStore",
             "metadata": {"name": "d"}, "spec": {"driver": "etcd"}}]}"#;
        let fleet = decode_fleet(list).expect("a fleet");
        assert_eq!(fleet.tenant_control_planes.len(), 1);
        assert_eq!(fleet.data_stores.len(), 1);
    }

    #[test]
    fn anything_else_is_refused() {
        let tcp = br#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
                       "metadata": {"name": "a"}}"#;
        assert!(matches!(decode_fleet(tcp), Err(FleetError::NotAList)));
        assert!(matches!(decode_fleet(b""), Err(FleetError::Empty)));
        assert!(matches!(decode_fleet(b"{"), Err(FleetError::Decode(_))));
        let two = br#"{"apiVersion": "v1", "kind": "List", "items": []} {"apiVersion": "v1", "kind": "List", "items": []}"#;
        assert!(matches!(
            decode_fleet(two),
            Err(FleetError::SeveralDocuments)
        ));
    }

    #[test]
    fn the_inbox_keeps_the_latest_snapshot() {
        let inbox = FleetInbox::default();
        assert!(inbox.latest().is_none());
        let fleet = |n: usize| Fleet {
            tenant_control_planes: Vec::new(),
            data_stores: (0..n)
                .map(|i| crate::model::DataStore {
                    name: format!("d{i}"),
                    driver: "etcd".into(),
                    used_by: Vec::new(),
                })
                .collect(),
        };
        inbox.put(fleet(1));
        inbox.put(fleet(2));
        assert_eq!(inbox.latest().map(|f| f.data_stores.len()), Some(2));
    }
}
