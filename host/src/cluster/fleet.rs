//! The watch of TenantControlPlanes (all namespaces) and DataStores
//! (cluster-scoped), each with kube-runtime's watcher feeding a reflector
//! store: the heartbeat reads the fleet from the stores, never from a List
//! per beat, and lifecycle events come from the watch.
//!
//! # Which changes are events
//!
//! - The first list after the watch starts is the state of the world, not a
//!   change: its objects are never events. An object created while the agent
//!   was down (or while telemetry was off) is therefore not reported as
//!   created; it is counted by every heartbeat.
//! - After that, a TenantControlPlane that appears is *created*, one that
//!   changes is *updated* (from the stored object to the new one; the plugin
//!   decides whether the change is worth sending), and one that goes away is
//!   *deleted* with its last state.
//! - A re-list (the API server's 410 Gone, or a watch that could not be
//!   resumed) is compared with the store: only what differs gives events, so
//!   no object is created twice. An object deleted and re-created under the
//!   same name while the watch was away is a deletion and a creation (its
//!   UID changed).
//!
//! DataStores only feed the heartbeat: the contract has no DataStore events.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::task::JoinHandle;

use super::health::ClusterHealth;
use super::installation::advice;
use super::resource::{KAMAJI_GROUP, Resource};
use crate::kube::record;
use crate::model::{Event, Fleet, TcpUpdate, TenantControlPlane};

/// Where the watch hands the lifecycle events.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// The stores of both watches, and the tasks that fill them.
pub struct FleetWatch {
    tenant_control_planes: Store<DynamicObject>,
    data_stores: Store<DynamicObject>,
    health: Arc<ClusterHealth>,
    tasks: Vec<JoinHandle<()>>,
}

impl FleetWatch {
    /// Starts both watches. TenantControlPlane events go to `sink`, if any.
    pub fn start(client: &Client, health: Arc<ClusterHealth>, sink: Option<EventSink>) -> Self {
        let (tenant_control_planes, tcp_task) = spawn_watch(
            client,
            Resource::TenantControlPlanes,
            Arc::clone(&health),
            sink,
        );
        let (data_stores, store_task) =
            spawn_watch(client, Resource::DataStores, Arc::clone(&health), None);
        Self {
            tenant_control_planes,
            data_stores,
            health,
            tasks: vec![tcp_task, store_task],
        }
    }

    /// The fleet in the stores, once both watches have synced.
    pub fn fleet(&self) -> Option<Fleet> {
        if !self.health.is_synced() {
            return None;
        }
        Some(Fleet {
            tenant_control_planes: sorted(&self.tenant_control_planes)
                .iter()
                .filter_map(|object| to_tenant_control_plane(object))
                .collect(),
            data_stores: sorted(&self.data_stores)
                .iter()
                .filter_map(|object| {
                    let value = serde_json::to_value(object.as_ref()).ok()?;
                    record::data_store(&value)
                        .inspect_err(|error| tracing::warn!("DataStore skipped: {error}"))
                        .ok()
                })
                .collect(),
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

/// The store's objects in a stable order (namespace, name), so that two
/// heartbeats over the same fleet are the same.
fn sorted(store: &Store<DynamicObject>) -> Vec<Arc<DynamicObject>> {
    let mut objects = store.state();
    objects.sort_by_key(|object| (object.namespace(), object.name_any()));
    objects
}

fn spawn_watch(
    client: &Client,
    resource: Resource,
    health: Arc<ClusterHealth>,
    sink: Option<EventSink>,
) -> (Store<DynamicObject>, JoinHandle<()>) {
    let api_resource = resource.api_resource();
    let api = Api::<DynamicObject>::all_with(client.clone(), &api_resource);
    let writer = Writer::new(api_resource.clone());
    let store = writer.as_reader();
    let follower = Follower {
        resource,
        changes: Changes::new(store.clone(), api_resource),
        writer,
        health,
        sink,
    };
    (store, tokio::spawn(follower.run(api)))
}

/// One watch: applies its events to the store and hands on the changes.
struct Follower {
    resource: Resource,
    changes: Changes,
    writer: Writer<DynamicObject>,
    health: Arc<ClusterHealth>,
    sink: Option<EventSink>,
}

impl Follower {
    async fn run(mut self, api: Api<DynamicObject>) {
        // The default backoff (0.8 s doubling to 30 s, with jitter) keeps a
        // 403 or a missing CRD from turning into a hot loop against the API.
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => self.apply(&event),
                Err(error) => self.failed(&error),
            }
        }
    }

    fn apply(&mut self, event: &watcher::Event<DynamicObject>) {
        let state = self.health.watch(self.resource);
        state.saw_event();
        // Before the store changes: the changes are found against its old state.
        let changes = self.changes.of(event);
        self.writer.apply_watcher_event(event);
        if matches!(event, watcher::Event::InitDone) {
            if state.is_synced() {
                state.relisted();
                tracing::info!(resource = self.resource.plural(), "re-listed");
            } else {
                tracing::info!(resource = self.resource.plural(), "watch synced");
            }
            state.set_synced(true);
        }
        if let Some(sink) = &self.sink {
            changes
                .into_iter()
                .filter_map(Change::into_event)
                .for_each(|event| sink(event));
        }
    }

    fn failed(&self, error: &watcher::Error) {
        let resource = self.resource.plural();
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
        let consequence = if self.health.watch(self.resource).is_synced() {
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

/// A difference between the store and what the API server says.
enum Change {
    Created(Arc<DynamicObject>),
    Updated {
        previous: Arc<DynamicObject>,
        current: Arc<DynamicObject>,
    },
    Deleted(Arc<DynamicObject>),
}

impl Change {
    fn into_event(self) -> Option<Event> {
        Some(match self {
            Self::Created(object) => Event::Created(to_tenant_control_plane(&object)?),
            Self::Updated { previous, current } => Event::Updated(TcpUpdate {
                previous: to_tenant_control_plane(&previous)?,
                current: to_tenant_control_plane(&current)?,
            }),
            Self::Deleted(object) => Event::Deleted(to_tenant_control_plane(&object)?),
        })
    }
}

/// Finds the changes a watch event makes to the store (see the module docs).
struct Changes {
    store: Store<DynamicObject>,
    api_resource: ApiResource,
    /// The store has been filled by a list at least once.
    listed: bool,
    /// The objects of the list in progress.
    relisted: HashSet<ObjectRef<DynamicObject>>,
}

impl Changes {
    fn new(store: Store<DynamicObject>, api_resource: ApiResource) -> Self {
        Self {
            store,
            api_resource,
            listed: false,
            relisted: HashSet::new(),
        }
    }

    fn of(&mut self, event: &watcher::Event<DynamicObject>) -> Vec<Change> {
        match event {
            watcher::Event::Init => {
                self.relisted.clear();
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                self.relisted.insert(self.key(object));
                if self.listed {
                    self.applied(object)
                } else {
                    Vec::new()
                }
            }
            watcher::Event::InitDone => {
                let gone = if self.listed {
                    self.unlisted()
                } else {
                    Vec::new()
                };
                self.listed = true;
                gone
            }
            watcher::Event::Apply(object) => self.applied(object),
            watcher::Event::Delete(object) => vec![Change::Deleted(Arc::new(object.clone()))],
        }
    }

    fn key(&self, object: &DynamicObject) -> ObjectRef<DynamicObject> {
        // Lookup's name for it: ResourceExt, in scope too, shares its other names.
        kube::runtime::reflector::Lookup::to_object_ref(object, self.api_resource.clone())
    }

    fn applied(&self, object: &DynamicObject) -> Vec<Change> {
        let current = Arc::new(object.clone());
        match self.store.get(&self.key(object)) {
            None => vec![Change::Created(current)],
            Some(previous) if previous.uid() != object.uid() => {
                vec![Change::Deleted(previous), Change::Created(current)]
            }
            // The same version again (a re-list of an unchanged object).
            Some(previous) if previous.resource_version() == object.resource_version() => {
                Vec::new()
            }
            Some(previous) => vec![Change::Updated { previous, current }],
        }
    }

    /// The stored objects that the re-list just finished did not have.
    fn unlisted(&mut self) -> Vec<Change> {
        let relisted = std::mem::take(&mut self.relisted);
        self.store
            .state()
            .into_iter()
            .filter(|object| !relisted.contains(&self.key(object)))
            .map(Change::Deleted)
            .collect()
    }
}

fn to_tenant_control_plane(object: &DynamicObject) -> Option<TenantControlPlane> {
    let value = serde_json::to_value(object).ok()?;
    record::tenant_control_plane(&value)
        .inspect_err(|error| {
            tracing::warn!(name = %object.name_any(), "TenantControlPlane skipped: {error}");
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tcp(name: &str, uid: &str, version: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane",
            "metadata": {"name": name, "namespace": "n", "uid": uid, "resourceVersion": version}
        }))
        .expect("an object")
    }

    /// Feeds events as the follower does, returning the changes as
    /// `(kind, name, resourceVersion)`.
    fn feed(
        changes: &mut Changes,
        writer: &mut Writer<DynamicObject>,
        events: Vec<watcher::Event<DynamicObject>>,
    ) -> Vec<(&'static str, String, String)> {
        let mut found = Vec::new();
        for event in events {
            for change in changes.of(&event) {
                found.push(match change {
                    Change::Created(o) => ("created", o.name_any(), version(&o)),
                    Change::Updated { current, .. } => {
                        ("updated", current.name_any(), version(&current))
                    }
                    Change::Deleted(o) => ("deleted", o.name_any(), version(&o)),
                });
            }
            writer.apply_watcher_event(&event);
        }
        found.sort();
        found
    }

    fn version(object: &DynamicObject) -> String {
        object.resource_version().unwrap_or_default()
    }

    fn list(objects: Vec<DynamicObject>) -> Vec<watcher::Event<DynamicObject>> {
        let mut events = vec![watcher::Event::Init];
        events.extend(objects.into_iter().map(watcher::Event::InitApply));
        events.push(watcher::Event::InitDone);
        events
    }

    #[test]
    fn the_first_list_is_no_event_and_a_relist_gives_only_the_differences() {
        let api_resource = Resource::TenantControlPlanes.api_resource();
        let mut writer = Writer::new(api_resource.clone());
        let mut changes = Changes::new(writer.as_reader(), api_resource);
        let initial = list(vec![
            tcp("a", "1", "10"),
            tcp("b", "2", "11"),
            tcp("c", "3", "12"),
        ]);
        assert!(feed(&mut changes, &mut writer, initial).is_empty());

        // a unchanged, b changed, c gone, d new.
        let relist = list(vec![
            tcp("a", "1", "10"),
            tcp("b", "2", "20"),
            tcp("d", "4", "21"),
        ]);
        let found = feed(&mut changes, &mut writer, relist);
        assert_eq!(
            found,
            [
                ("created", "d".into(), "21".into()),
                ("deleted", "c".into(), "12".into()),
                ("updated", "b".into(), "20".into()),
            ]
        );
    }

    #[test]
    fn a_name_reused_by_a_new_object_is_a_deletion_and_a_creation() {
        let api_resource = Resource::TenantControlPlanes.api_resource();
        let mut writer = Writer::new(api_resource.clone());
        let mut changes = Changes::new(writer.as_reader(), api_resource);
        feed(&mut changes, &mut writer, list(vec![tcp("a", "1", "10")]));
        let events = vec![
            watcher::Event::Apply(tcp("a", "9", "30")),
            watcher::Event::Apply(tcp("a", "9", "30")),
        ];
        let found = feed(&mut changes, &mut writer, events);
        assert_eq!(
            found,
            [
                ("created", "a".into(), "30".into()),
                ("deleted", "a".into(), "10".into()),
            ]
        );
    }
}
