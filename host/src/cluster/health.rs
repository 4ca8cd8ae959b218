//! What the cluster side of the agent is doing, for `/readyz` and
//! `/metrics`: whether each watch has synced, how often it re-listed, when it
//! last saw an event, the API errors by status code, and leadership.
//!
//! Plain atomics and a small map, written by the watch, leader and
//! installation tasks, read at each scrape: nothing is copied, so nothing
//! can drift.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::resource::Resource;

/// One watch's state.
#[derive(Debug, Default)]
pub struct WatchState {
    synced: AtomicBool,
    relists: AtomicU64,
    /// When the watch last delivered anything (an object, a deletion, the end
    /// of a list); `None` before it did.
    last_event: Mutex<Option<Instant>>,
}

impl WatchState {
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Relaxed)
    }

    pub fn relists(&self) -> u64 {
        self.relists.load(Ordering::Relaxed)
    }

    /// Seconds since the last event, if there was one.
    pub fn last_event_age(&self) -> Option<f64> {
        lock(&self.last_event).map(|at| at.elapsed().as_secs_f64())
    }

    pub(super) fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Relaxed);
    }

    pub(super) fn relisted(&self) {
        self.relists.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn saw_event(&self) {
        *lock(&self.last_event) = Some(Instant::now());
    }
}

/// The cluster side's state, shared by its tasks and the HTTP handlers.
#[derive(Debug, Default)]
pub struct ClusterHealth {
    pub tenant_control_planes: WatchState,
    pub data_stores: WatchState,
    leader: AtomicBool,
    /// API errors by HTTP status code, or `transport` when there was none.
    api_errors: Mutex<BTreeMap<String, u64>>,
}

impl ClusterHealth {
    pub fn watch(&self, resource: Resource) -> &WatchState {
        match resource {
            Resource::TenantControlPlanes => &self.tenant_control_planes,
            Resource::DataStores => &self.data_stores,
        }
    }

    /// Both watches hold a complete copy of the cluster's objects.
    pub fn is_synced(&self) -> bool {
        Resource::ALL
            .iter()
            .all(|resource| self.watch(*resource).is_synced())
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub(super) fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    /// Counts a failed API call: its status code, or `transport`.
    pub fn api_error(&self, error: &kube::Error) {
        match error {
            kube::Error::Api(status) => self.api_error_code(status.code),
            _ => self.count_error("transport".to_owned()),
        }
    }

    /// Counts an error status that came inside a watch stream.
    pub fn api_error_code(&self, code: u16) {
        self.count_error(code.to_string());
    }

    fn count_error(&self, code: String) {
        *lock(&self.api_errors).entry(code).or_default() += 1;
    }

    /// `(code, count)` of every error code seen so far.
    pub fn api_errors(&self) -> Vec<(String, u64)> {
        lock(&self.api_errors)
            .iter()
            .map(|(code, count)| (code.clone(), *count))
            .collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
