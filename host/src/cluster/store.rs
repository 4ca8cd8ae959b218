//! What the watches keep of each object: its identity, its UID and
//! resourceVersion (to tell a change), and its record in the host's model
//! withheld to what the plugin reads. Never the object itself: no
//! `managedFields`, no spec or status beyond what the plugin declared, so a
//! fleet of tens of thousands of TenantControlPlanes costs a few hundred
//! bytes each, not the tens of kilobytes of their JSON.
//!
//! # Which changes are events
//!
//! - The first list after the watch starts is the state of the world, not a
//!   change: its objects are never events.
//! - After that, an object that appears is *created*, one whose
//!   resourceVersion changes is *updated* (from the stored record to the new
//!   one; the plugin decides whether the change is worth sending), and one
//!   that goes away is *deleted* with its last record.
//! - A re-list (410 Gone, a watch that could not resume, or wider reads) is
//!   compared with the store: only what differs gives events, so no object is
//!   created twice. An object deleted and re-created under the same name while
//!   the watch was away is a deletion and a creation (its UID changed).

use std::collections::{BTreeMap, HashSet};

use crate::model::{DataStore, InputFields, TenantControlPlane};

/// An object's place in the store: its namespace (empty when cluster-scoped)
/// and name. Its order is the heartbeat's, so that two heartbeats over the
/// same fleet are the same.
pub type ObjectKey = (String, String);

/// A record of the host's model that the store can keep withheld.
pub trait Record: Clone {
    /// Empties what a plugin that reads `reads` is not shown.
    fn withhold(&mut self, reads: InputFields);
}

impl Record for TenantControlPlane {
    fn withhold(&mut self, reads: InputFields) {
        TenantControlPlane::withhold(self, reads);
    }
}

impl Record for DataStore {
    fn withhold(&mut self, reads: InputFields) {
        DataStore::withhold(self, reads);
    }
}

/// One object as the store keeps it. Its UID and resourceVersion are boxed
/// strings, without a `String`'s spare capacity: they are never changed.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    pub uid: Box<str>,
    pub version: Box<str>,
    pub record: T,
}

/// A difference between the store and what the API server says.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    Created(T),
    Updated { previous: T, current: T },
    Deleted(T),
}

/// The objects of one resource, and the list in progress.
#[derive(Debug)]
pub struct Objects<T> {
    /// Boxed: a B-tree node keeps room for eleven entries and is often half
    /// full, and a record is a few hundred bytes wide.
    objects: BTreeMap<ObjectKey, Box<Stored<T>>>,
    /// What every record holds: the reads of the last complete list, or
    /// less after [`Self::narrow`]. Empty before the first list.
    covers: InputFields,
    /// The store has been filled by a list at least once.
    listed: bool,
    /// The objects of the list in progress.
    relisted: HashSet<ObjectKey>,
}

impl<T> Default for Objects<T> {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            covers: InputFields::empty(),
            listed: false,
            relisted: HashSet::new(),
        }
    }
}

impl<T: Record> Objects<T> {
    /// A list begins.
    pub fn list_started(&mut self) {
        self.relisted.clear();
    }

    /// An object of the list in progress: a change only if a list filled
    /// the store before.
    pub fn listed(&mut self, key: ObjectKey, stored: Stored<T>) -> Vec<Change<T>> {
        self.relisted.insert(key.clone());
        let changes = self.put(key, stored);
        if self.listed { changes } else { Vec::new() }
    }

    /// The list, whose records hold `reads`, is complete: what it did not
    /// have is gone.
    pub fn list_done(&mut self, reads: InputFields) -> Vec<Change<T>> {
        self.covers = reads;
        let relisted = std::mem::take(&mut self.relisted);
        let was_listed = std::mem::replace(&mut self.listed, true);
        let mut gone = Vec::new();
        self.objects.retain(|key, stored| {
            let kept = relisted.contains(key);
            if !kept {
                gone.push(Change::Deleted(stored.record.clone()));
            }
            kept
        });
        if was_listed { gone } else { Vec::new() }
    }

    /// An object added or changed, as the watch tells.
    pub fn applied(&mut self, key: ObjectKey, stored: Stored<T>) -> Vec<Change<T>> {
        self.put(key, stored)
    }

    /// An object deleted, as the watch tells, with its last state.
    pub fn deleted(&mut self, key: &ObjectKey, last: Stored<T>) -> Vec<Change<T>> {
        self.objects.remove(key);
        vec![Change::Deleted(last.record)]
    }

    /// Stores the object, and says how it differs from what was stored.
    fn put(&mut self, key: ObjectKey, stored: Stored<T>) -> Vec<Change<T>> {
        let changes = match self.objects.get(&key) {
            None => vec![Change::Created(stored.record.clone())],
            Some(previous) if previous.uid != stored.uid => vec![
                Change::Deleted(previous.record.clone()),
                Change::Created(stored.record.clone()),
            ],
            // The same version again (a re-list of an unchanged object).
            Some(previous) if previous.version == stored.version => Vec::new(),
            Some(previous) => vec![Change::Updated {
                previous: previous.record.clone(),
                current: stored.record.clone(),
            }],
        };
        self.objects.insert(key, Box::new(stored));
        changes
    }

    /// The records in key order.
    pub fn records(&self) -> Vec<T> {
        self.objects
            .values()
            .map(|stored| stored.record.clone())
            .collect()
    }

    /// Whether every record holds what a plugin reading `reads` is shown.
    pub fn covers(&self, reads: InputFields) -> bool {
        self.listed && self.covers.contains(reads)
    }

    /// Empties in every record what a plugin reading `reads` is not shown.
    pub fn narrow(&mut self, reads: InputFields) {
        for stored in self.objects.values_mut() {
            stored.record.withhold(reads);
        }
        self.covers &= reads;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(name: &str, uid: &str, version: &str) -> (ObjectKey, Stored<TenantControlPlane>) {
        let record = TenantControlPlane {
            name: name.into(),
            desired_version: Some(format!("v1.30.{version}")),
            ..TenantControlPlane::default()
        };
        let stored = Stored {
            uid: uid.into(),
            version: version.into(),
            record,
        };
        (("n".into(), name.into()), stored)
    }

    /// The changes as `(kind, name, version asked for)`, sorted.
    fn named(changes: Vec<Change<TenantControlPlane>>) -> Vec<(&'static str, String, String)> {
        let mut found: Vec<_> = changes
            .into_iter()
            .map(|change| {
                let (kind, tcp) = match change {
                    Change::Created(tcp) => ("created", tcp),
                    Change::Updated { current, .. } => ("updated", current),
                    Change::Deleted(tcp) => ("deleted", tcp),
                };
                (kind, tcp.name, tcp.desired_version.unwrap_or_default())
            })
            .collect();
        found.sort();
        found
    }

    fn list(
        objects: &mut Objects<TenantControlPlane>,
        items: Vec<(ObjectKey, Stored<TenantControlPlane>)>,
    ) -> Vec<Change<TenantControlPlane>> {
        objects.list_started();
        let mut changes: Vec<_> = items
            .into_iter()
            .flat_map(|(key, stored)| objects.listed(key, stored))
            .collect();
        changes.extend(objects.list_done(InputFields::all()));
        changes
    }

    #[test]
    fn the_first_list_is_no_event_and_a_relist_gives_only_the_differences() {
        let mut objects = Objects::default();
        let initial = vec![
            tcp("a", "1", "10"),
            tcp("b", "2", "11"),
            tcp("c", "3", "12"),
        ];
        assert!(list(&mut objects, initial).is_empty());
        // a unchanged, b changed, c gone, d new.
        let relist = vec![
            tcp("a", "1", "10"),
            tcp("b", "2", "20"),
            tcp("d", "4", "21"),
        ];
        assert_eq!(
            named(list(&mut objects, relist)),
            [
                ("created", "d".into(), "v1.30.21".into()),
                ("deleted", "c".into(), "v1.30.12".into()),
                ("updated", "b".into(), "v1.30.20".into()),
            ]
        );
        let names: Vec<String> = objects.records().into_iter().map(|tcp| tcp.name).collect();
        assert_eq!(names, ["a", "b", "d"]);
    }

    #[test]
    fn a_name_reused_by_a_new_object_is_a_deletion_and_a_creation() {
        let mut objects = Objects::default();
        list(&mut objects, vec![tcp("a", "1", "10")]);
        let (key, stored) = tcp("a", "9", "30");
        assert_eq!(
            named(objects.applied(key.clone(), stored.clone())),
            [
                ("created", "a".into(), "v1.30.30".into()),
                ("deleted", "a".into(), "v1.30.10".into()),
            ]
        );
        assert!(
            objects.applied(key, stored).is_empty(),
            "the same version again"
        );
    }

    #[test]
    fn records_cover_what_the_last_list_read_until_narrowed() {
        let mut objects: Objects<TenantControlPlane> = Objects::default();
        assert!(!objects.covers(InputFields::empty()), "not listed yet");
        objects.list_started();
        objects.list_done(InputFields::VERSIONS);
        assert!(objects.covers(InputFields::VERSIONS));
        assert!(!objects.covers(InputFields::VERSIONS | InputFields::STATUS));
        objects.narrow(InputFields::empty());
        assert!(!objects.covers(InputFields::VERSIONS));
    }
}
