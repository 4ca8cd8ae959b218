//! The watch of TenantControlPlanes (all namespaces) and DataStores
//! (cluster-scoped), each with kube-runtime's watcher, a page of a list at
//! a time, feeding a store of trimmed records (see `store`): the heartbeat
//! reads the fleet from the stores, never from a List per beat, and
//! lifecycle events come from the watch.
//!
//! The records hold what the current plugin reads. When a new plugin reads
//! more, each watch lists again with the wider reads, and no heartbeat is
//! built until both have; when it reads less, the records are narrowed in
//! place. DataStores only feed the heartbeat: the contract has no DataStore
//! events.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch as state;
use tokio::task::JoinHandle;

use super::health::ClusterHealth;
use super::installation::advice;
use super::resource::{KAMAJI_GROUP, Resource};
use super::store::{Change, ObjectKey, Objects, Record, Stored};
use crate::kube::record::{self, RecordError};
use crate::model::{DataStore, Event, Fleet, InputFields, TcpUpdate, TenantControlPlane};

/// Where the watch hands the lifecycle events.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

type Shared<T> = Arc<Mutex<Objects<T>>>;

/// The stores of both watches, and the tasks that fill them.
pub struct FleetWatch {
    tenant_control_planes: Shared<TenantControlPlane>,
    data_stores: Shared<DataStore>,
    reads: state::Receiver<InputFields>,
    health: Arc<ClusterHealth>,
    tasks: Vec<JoinHandle<()>>,
}

impl FleetWatch {
    /// Starts both watches, keeping what `reads` (the current plugin's
    /// reads, as they change) says. TenantControlPlane events go to `sink`.
    pub fn start(
        client: &Client,
        health: Arc<ClusterHealth>,
        reads: state::Receiver<InputFields>,
        sink: Option<EventSink>,
    ) -> Self {
        let tcps = Watch::<TenantControlPlane> {
            resource: Resource::TenantControlPlanes,
            read: record::tenant_control_plane,
            sink,
        };
        let stores = Watch::<DataStore> {
            resource: Resource::DataStores,
            read: record::data_store,
            sink: None,
        };
        let (tenant_control_planes, tcp_task) = tcps.spawn(client, &health, &reads);
        let (data_stores, store_task) = stores.spawn(client, &health, &reads);
        Self {
            tenant_control_planes,
            data_stores,
            reads,
            health,
            tasks: vec![tcp_task, store_task],
        }
    }

    /// The fleet in the stores, once both watches have synced with records
    /// that hold what the current plugin reads.
    pub fn fleet(&self) -> Option<Fleet> {
        let reads = *self.reads.borrow();
        if !self.health.is_synced() {
            return None;
        }
        let tcps = lock(&self.tenant_control_planes);
        let stores = lock(&self.data_stores);
        (tcps.covers(reads) && stores.covers(reads)).then(|| Fleet {
            tenant_control_planes: tcps.records(),
            data_stores: stores.records(),
        })
    }
}

impl Drop for FleetWatch {
    /// Stopping the tasks closes their watch connections.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for resource in Resource::ALL {
            self.health.watch(resource).set_synced(false);
        }
    }
}

/// A poisoned lock holds valid data: every update under it is whole.
fn lock<T>(objects: &Mutex<T>) -> MutexGuard<'_, T> {
    objects.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one watch reads, and where its events go.
struct Watch<T> {
    resource: Resource,
    read: fn(&serde_json::Value) -> Result<T, RecordError>,
    sink: Option<EventSink>,
}

impl<T: Record + Lifecycle + Send + 'static> Watch<T> {
    fn spawn(
        self,
        client: &Client,
        health: &Arc<ClusterHealth>,
        reads: &state::Receiver<InputFields>,
    ) -> (Shared<T>, JoinHandle<()>) {
        let api = Api::<DynamicObject>::all_with(client.clone(), &self.resource.api_resource());
        let objects = Shared::default();
        let follower = Follower {
            watch: self,
            objects: Arc::clone(&objects),
            health: Arc::clone(health),
            reads: reads.clone(),
            listing_with: InputFields::empty(),
            lists: 0,
        };
        (objects, tokio::spawn(follower.run(api)))
    }
}

/// How a record's changes become events: TenantControlPlanes have a
/// lifecycle in the contract, DataStores none.
trait Lifecycle: Sized {
    fn event(change: Change<Self>) -> Option<Event>;
}

impl Lifecycle for TenantControlPlane {
    fn event(change: Change<Self>) -> Option<Event> {
        Some(match change {
            Change::Created(tcp) => Event::Created(tcp),
            Change::Updated { previous, current } => {
                Event::Updated(TcpUpdate { previous, current })
            }
            Change::Deleted(tcp) => Event::Deleted(tcp),
        })
    }
}

impl Lifecycle for DataStore {
    fn event(_: Change<Self>) -> Option<Event> {
        None
    }
}

/// One watch: applies its events to the store and hands on the changes.
struct Follower<T> {
    watch: Watch<T>,
    objects: Shared<T>,
    health: Arc<ClusterHealth>,
    reads: state::Receiver<InputFields>,
    /// The reads the list in progress keeps.
    listing_with: InputFields,
    /// Complete lists so far.
    lists: u64,
}

impl<T: Record + Lifecycle> Follower<T> {
    async fn run(mut self, api: Api<DynamicObject>) {
        loop {
            self.listing_with = *self.reads.borrow_and_update();
            // The default backoff (0.8 s doubling to 30 s, with jitter) keeps
            // a 403 or a missing CRD from turning into a hot loop against
            // the API. The list comes a page at a time (500 objects).
            let config = watcher::Config::default();
            let mut events = std::pin::pin!(watcher(api.clone(), config).default_backoff());
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(Ok(event)) => self.apply(event),
                        Some(Err(error)) => self.failed(&error),
                        None => return,
                    },
                    changed = self.reads.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if self.must_relist() {
                            break;
                        }
                    }
                }
            }
            // Not synced until the wider list is complete: no heartbeat
            // from records that lack what the new plugin reads.
            self.health.watch(self.watch.resource).set_synced(false);
            tracing::info!(
                resource = self.watch.resource.plural(),
                "the plugin reads more: listing again"
            );
        }
    }

    /// A new plugin's reads: narrower ones narrow the records in place;
    /// wider ones need a new list.
    fn must_relist(&mut self) -> bool {
        let reads = *self.reads.borrow_and_update();
        if self.listing_with.contains(reads) {
            lock(&self.objects).narrow(reads);
            self.listing_with = reads;
            false
        } else {
            true
        }
    }

    fn apply(&mut self, event: watcher::Event<DynamicObject>) {
        self.health.watch(self.watch.resource).saw_event();
        let list_done = matches!(event, watcher::Event::InitDone);
        let changes = {
            let mut objects = lock(&self.objects);
            match event {
                watcher::Event::Init => {
                    objects.list_started();
                    Vec::new()
                }
                watcher::Event::InitApply(object) => match self.stored(&object) {
                    Some((key, stored)) => objects.listed(key, stored),
                    None => Vec::new(),
                },
                watcher::Event::InitDone => objects.list_done(self.listing_with),
                watcher::Event::Apply(object) => match self.stored(&object) {
                    Some((key, stored)) => objects.applied(key, stored),
                    None => Vec::new(),
                },
                watcher::Event::Delete(object) => match self.stored(&object) {
                    Some((key, stored)) => objects.deleted(&key, stored),
                    None => Vec::new(),
                },
            }
        };
        if list_done {
            self.synced();
        }
        self.hand_on(changes);
    }

    fn synced(&mut self) {
        let (resource, state) = (self.watch.resource, self.health.watch(self.watch.resource));
        if self.lists > 0 {
            state.relisted();
            tracing::info!(resource = resource.plural(), "re-listed");
        } else {
            tracing::info!(resource = resource.plural(), "watch synced");
        }
        self.lists += 1;
        state.set_synced(true);
    }

    fn hand_on(&self, changes: Vec<Change<T>>) {
        if let Some(sink) = &self.watch.sink {
            changes
                .into_iter()
                .filter_map(T::event)
                .for_each(|event| sink(event));
        }
    }

    /// What the store keeps of `object`: its record, withheld to the reads
    /// of the list in progress. An object that is not a valid record is
    /// skipped, and said so.
    fn stored(&self, object: &DynamicObject) -> Option<(ObjectKey, Stored<T>)> {
        let key = (object.namespace().unwrap_or_default(), object.name_any());
        let value = serde_json::to_value(object).ok()?;
        let mut record = (self.watch.read)(&value)
            .inspect_err(|error| {
                let resource = self.watch.resource.plural();
                tracing::warn!(resource, name = %key.1, "object skipped: {error}");
            })
            .ok()?;
        record.withhold(self.listing_with);
        let stored = Stored {
            uid: object.uid().unwrap_or_default().into(),
            version: object.resource_version().unwrap_or_default().into(),
            record,
        };
        Some((key, stored))
    }

    fn failed(&self, error: &watcher::Error) {
        let resource = self.watch.resource.plural();
        let api_error = match error {
            watcher::Error::InitialListFailed(error) | watcher::Error::WatchStartFailed(error) => {
                error
            }
            watcher::Error::WatchFailed(error) => {
                self.health.api_error(error);
                tracing::warn!(resource, "the watch broke off ({error}): resuming");
                return;
            }
            watcher::Error::WatchError(status) if status.code == 410 => {
                tracing::info!(resource, "the watch expired (410 Gone): re-listing");
                self.health.api_error_code(status.code);
                return;
            }
            watcher::Error::WatchError(status) => {
                self.health.api_error_code(status.code);
                tracing::warn!(resource, "the watch failed: {error}");
                return;
            }
            watcher::Error::NoResourceVersion => {
                tracing::warn!(resource, "{error}");
                return;
            }
        };
        self.health.api_error(api_error);
        let consequence = if self.health.watch(self.watch.resource).is_synced() {
            "the store keeps what it had"
        } else {
            "not ready"
        };
        tracing::error!(
            resource,
            "cannot watch {resource}.{KAMAJI_GROUP}: {api_error}{}; {consequence}, retrying with backoff",
            advice(api_error)
        );
    }
}
