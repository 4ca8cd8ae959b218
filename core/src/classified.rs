//! Every field of the model's input, classified once: which groups of
//! [`InputFields`] show it to a plugin, and whether its values identify
//! anything. Withholding ([`crate::withhold`]) and the leak guard's input
//! gathering ([`crate::leak_guard`]) both walk the model through these
//! tables, so the two cannot disagree about a field.
//!
//! Each table names every field of its struct, and the code it expands to
//! destructures the struct with no `..`: a field added to one of the model's
//! structs is a compile error here until it is classified. Without that, a
//! new field would be shown to every plugin (withholding would not know to
//! empty it) and never looked for in bodies (the leak guard would not know
//! it identifies), and no test would notice.

use std::ops::ControlFlow;

use crate::model::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, InputFields, Installation, KeyValue,
    OwnerReference, TcpUpdate, TenantControlPlane,
};

/// What a field is to withholding and to the leak guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    shown: Shown,
    /// The path the leak guard names the field by when a body carries one of
    /// its values; `None` for a field whose values may flow into bodies as
    /// they are (a version, a status, a driver).
    identifying: Option<&'static str>,
}

/// Which plugins a field is shown to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// Every plugin: what only holds records (a fleet's lists, an update's
    /// two objects, an event itself).
    Always,
    /// A plugin that reads one of these groups.
    ToReadersOf(InputFields),
    /// A list whose length every plugin is shown, and whose entries only a
    /// plugin that reads one of these groups: how many TCPs use a DataStore
    /// identifies nothing, and contracts with declarations pass that count.
    LengthToAll(InputFields),
}

impl Class {
    /// What holds records and is nothing itself: always shown, never
    /// searched for. Also the class a walk starts with.
    pub(crate) const STRUCTURE: Class = Class {
        shown: Shown::Always,
        identifying: None,
    };

    /// The path to name when a body carries the field's value, if its values
    /// identify anything.
    pub(crate) fn identifying(self) -> Option<&'static str> {
        self.identifying
    }

    fn is_shown_to(self, reads: InputFields) -> bool {
        match self.shown {
            Shown::Always | Shown::LengthToAll(_) => true,
            Shown::ToReadersOf(groups) => reads.intersects(groups),
        }
    }

    /// The class of the entries of a list (or the value of an option) of
    /// this class.
    fn of_entries(self) -> Class {
        match self.shown {
            Shown::LengthToAll(groups) => Class {
                shown: Shown::ToReadersOf(groups),
                ..self
            },
            Shown::Always | Shown::ToReadersOf(_) => self,
        }
    }

    /// The same field, as a list whose length is shown to every plugin.
    const fn length_to_all(self) -> Class {
        match self.shown {
            Shown::ToReadersOf(groups) => Class {
                shown: Shown::LengthToAll(groups),
                ..self
            },
            shown => Class { shown, ..self },
        }
    }
}

/// A field whose values identify: shown to readers of `groups`, searched for
/// in bodies and named `path` when found.
const fn identifying(groups: InputFields, path: &'static str) -> Class {
    Class {
        shown: Shown::ToReadersOf(groups),
        identifying: Some(path),
    }
}

/// A field whose values identify nothing: shown to readers of `groups`, and
/// a body may carry its values as they are.
const fn not_identifying(groups: InputFields) -> Class {
    Class {
        shown: Shown::ToReadersOf(groups),
        identifying: None,
    }
}

/// A record, or a list of them, shown to readers of `groups`: whether it is
/// there is shown to them, and its own fields have their own classes.
const fn records(groups: InputFields) -> Class {
    not_identifying(groups)
}

/// What a walk calls with each string and its class; a break stops the walk.
pub(crate) trait Visit<'a, B>: FnMut(Class, &'a str) -> ControlFlow<B> {}

impl<'a, B, F: FnMut(Class, &'a str) -> ControlFlow<B>> Visit<'a, B> for F {}

/// A value of the model's input, walked string by string with each string's
/// class.
pub(crate) trait Classified {
    /// Calls `visit` with every string of the value and its class, until it
    /// breaks. `class` is the value's own, from the table of what holds it.
    fn each_string<'a, B>(&'a self, class: Class, visit: &mut impl Visit<'a, B>) -> ControlFlow<B>;

    /// Empties (which frees what it held) whatever of the value a plugin
    /// that reads `reads` is not shown.
    fn withhold_as(&mut self, class: Class, reads: InputFields);
}

impl Classified for String {
    fn each_string<'a, B>(&'a self, class: Class, visit: &mut impl Visit<'a, B>) -> ControlFlow<B> {
        visit(class, self)
    }

    fn withhold_as(&mut self, class: Class, reads: InputFields) {
        if !class.is_shown_to(reads) {
            *self = String::new();
        }
    }
}

/// An option or a list: a value that holds entries of one type. A plugin
/// not shown it is shown it empty; one shown it is shown each entry as the
/// entries' class says.
trait Entries: Default {
    type Entry;
}

impl<T> Entries for Option<T> {
    type Entry = T;
}

impl<T> Entries for Vec<T> {
    type Entry = T;
}

impl<C> Classified for C
where
    C: Entries,
    C::Entry: Classified,
    for<'e> &'e C: IntoIterator<Item = &'e C::Entry>,
    for<'e> &'e mut C: IntoIterator<Item = &'e mut C::Entry>,
{
    fn each_string<'a, B>(&'a self, class: Class, visit: &mut impl Visit<'a, B>) -> ControlFlow<B> {
        self.into_iter()
            .try_for_each(|entry| entry.each_string(class.of_entries(), visit))
    }

    fn withhold_as(&mut self, class: Class, reads: InputFields) {
        if !class.is_shown_to(reads) {
            *self = C::default();
        }
        for entry in self {
            entry.withhold_as(class.of_entries(), reads);
        }
    }
}

/// Implements [`Classified`] for a struct from its table,
/// `Struct, outer => { field: class, ... }`: every field, each with the
/// class it has within the struct, which may use `outer`, the struct's own.
///
/// A macro because the one table must serve two walks: the leak guard's,
/// over `&` (it reads the events it is handed), and withholding's, over
/// `&mut` (it empties in place), and no function is generic over the two.
/// Each expansion destructures the struct naming every field of the table,
/// with no `..`, so the table cannot leave one out: a field missing from it
/// fails the build at its `classify!` with "pattern requires `..`" or
/// "pattern does not mention field". The fix is a row with the field's
/// class, never a `..`.
macro_rules! classify {
    ($record:ident, $outer:pat => { $($field:ident: $class:expr),+ $(,)? }) => {
        impl Classified for $record {
            fn each_string<'a, B>(&'a self, $outer: Class, visit: &mut impl Visit<'a, B>) -> ControlFlow<B> {
                let $record { $($field),+ } = self;
                $($field.each_string($class, visit)?;)+
                ControlFlow::Continue(())
            }

            fn withhold_as(&mut self, $outer: Class, reads: InputFields) {
                let $record { $($field),+ } = self;
                $($field.withhold_as($class, reads);)+
            }
        }
    };
}

classify!(Installation, _ => {
    cluster_uid: identifying(InputFields::CLUSTER_UID, "installation.cluster-uid"),
    kamaji_version: not_identifying(InputFields::VERSIONS),
    kubernetes_version: not_identifying(InputFields::VERSIONS),
});

classify!(TenantControlPlane, _ => {
    name: identifying(InputFields::IDENTITY, "tenant-control-plane.name"),
    namespace: identifying(InputFields::IDENTITY, "tenant-control-plane.namespace"),
    uid: identifying(InputFields::IDENTITY, "tenant-control-plane.uid"),
    labels: identifying(InputFields::LABELS, "tenant-control-plane.labels"),
    annotations: identifying(InputFields::ANNOTATIONS, "tenant-control-plane.annotations"),
    // Kept, one for one, when either half is read, so that a plugin that
    // reads kinds sees every owner's kind.
    owner_references: records(InputFields::OWNER_KINDS.union(InputFields::OWNER_IDENTITY)),
    desired_version: not_identifying(InputFields::VERSIONS),
    installed_version: not_identifying(InputFields::VERSIONS),
    status: not_identifying(InputFields::STATUS),
    service_type: not_identifying(InputFields::EXPOSURE),
    // Whether it is exposed is `exposure`; where to is `addresses`.
    ingress: records(InputFields::EXPOSURE.union(InputFields::ADDRESSES)),
    gateway: records(InputFields::EXPOSURE.union(InputFields::ADDRESSES)),
    network_address: identifying(InputFields::ADDRESSES, "tenant-control-plane.network-address"),
    endpoint: identifying(InputFields::ADDRESSES, "tenant-control-plane.endpoint"),
    data_store: identifying(InputFields::DATA_STORE_NAMES, "tenant-control-plane.data-store"),
});

// A label's or an annotation's key and value are what their map is.
classify!(KeyValue, map => { key: map, value: map });

classify!(OwnerReference, _ => {
    api_version: not_identifying(InputFields::OWNER_KINDS),
    kind: not_identifying(InputFields::OWNER_KINDS),
    name: identifying(InputFields::OWNER_IDENTITY, "tenant-control-plane.owner-references.name"),
    uid: identifying(InputFields::OWNER_IDENTITY, "tenant-control-plane.owner-references.uid"),
});

classify!(IngressExposure, _ => {
    hostname: identifying(InputFields::ADDRESSES, "tenant-control-plane.ingress.hostname"),
    class_name: not_identifying(InputFields::EXPOSURE),
});

classify!(GatewayExposure, _ => {
    hostname: identifying(InputFields::ADDRESSES, "tenant-control-plane.gateway.hostname"),
});

classify!(DataStore, _ => {
    name: identifying(InputFields::DATA_STORE_NAMES, "data-store.name"),
    driver: not_identifying(InputFields::DRIVERS),
    used_by: identifying(InputFields::USED_BY, "data-store.used-by").length_to_all(),
});

classify!(Fleet, _ => {
    tenant_control_planes: Class::STRUCTURE,
    data_stores: Class::STRUCTURE,
});

classify!(TcpUpdate, _ => { previous: Class::STRUCTURE, current: Class::STRUCTURE });

impl Classified for Event {
    fn each_string<'a, B>(&'a self, _: Class, visit: &mut impl Visit<'a, B>) -> ControlFlow<B> {
        match self {
            Event::Created(tcp) | Event::Deleted(tcp) => tcp.each_string(Class::STRUCTURE, visit),
            Event::Updated(update) => update.each_string(Class::STRUCTURE, visit),
            Event::Heartbeat(fleet) => fleet.each_string(Class::STRUCTURE, visit),
        }
    }

    fn withhold_as(&mut self, _: Class, reads: InputFields) {
        match self {
            Event::Created(tcp) | Event::Deleted(tcp) => tcp.withhold_as(Class::STRUCTURE, reads),
            Event::Updated(update) => update.withhold_as(Class::STRUCTURE, reads),
            Event::Heartbeat(fleet) => fleet.withhold_as(Class::STRUCTURE, reads),
        }
    }
}

/// An installation and an update with every field filled, each string
/// different, for tests that must see every field.
#[cfg(test)]
pub(crate) mod filled {
    use crate::model::{
        DataStore, Event, Fleet, GatewayExposure, IngressExposure, Installation, KeyValue,
        OwnerReference, TcpUpdate, TenantControlPlane,
    };

    pub(crate) fn installation() -> Installation {
        Installation {
            cluster_uid: "cluster-uid".into(),
            kamaji_version: "kamaji-version".into(),
            kubernetes_version: "kubernetes-version".into(),
        }
    }

    /// A TCP whose strings all start with `prefix`.
    pub(crate) fn tenant_control_plane(prefix: &str) -> TenantControlPlane {
        let text = |field: &str| format!("{prefix}{field}");
        let some = |field: &str| Some(text(field));
        let pair = |map: &str| KeyValue {
            key: text(&format!("{map}-key")),
            value: text(&format!("{map}-value")),
        };
        TenantControlPlane {
            name: text("name"),
            namespace: text("namespace"),
            uid: text("uid"),
            labels: vec![pair("label")],
            annotations: vec![pair("annotation")],
            owner_references: vec![OwnerReference {
                api_version: text("owner-api-version"),
                kind: text("owner-kind"),
                name: text("owner-name"),
                uid: text("owner-uid"),
            }],
            desired_version: some("desired-version"),
            installed_version: some("installed-version"),
            status: some("status"),
            service_type: some("service-type"),
            ingress: Some(IngressExposure {
                hostname: some("ingress-hostname"),
                class_name: some("ingress-class"),
            }),
            gateway: Some(GatewayExposure {
                hostname: some("gateway-hostname"),
            }),
            network_address: some("network-address"),
            endpoint: some("endpoint"),
            data_store: some("data-store"),
        }
    }

    pub(crate) fn data_store() -> DataStore {
        DataStore {
            name: "store-name".into(),
            driver: "store-driver".into(),
            used_by: vec!["store-user".into()],
        }
    }

    /// An update and a heartbeat: every kind of record the events hold.
    pub(crate) fn events() -> Vec<Event> {
        vec![
            Event::Updated(TcpUpdate {
                previous: tenant_control_plane("previous-"),
                current: tenant_control_plane("current-"),
            }),
            Event::Heartbeat(Fleet {
                tenant_control_planes: vec![tenant_control_plane("fleet-")],
                data_stores: vec![data_store()],
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string that `Debug` prints of `value`: every string it holds,
    /// found without the tables.
    fn debug_strings(value: &impl std::fmt::Debug) -> Vec<String> {
        let printed = format!("{value:?}");
        printed
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// The filled installation and events, as a plugin that reads `reads` is
    /// shown them.
    fn shown_to(reads: InputFields) -> (Installation, Vec<Event>) {
        let (mut installation, mut events) = (filled::installation(), filled::events());
        installation.withhold_as(Class::STRUCTURE, reads);
        events.withhold_as(Class::STRUCTURE, reads);
        (installation, events)
    }

    /// Every string of the input with its class, in the leak guard's order.
    fn walk(input: &(Installation, Vec<Event>)) -> Vec<(Class, String)> {
        let mut strings = Vec::new();
        let mut push = |class, string: &str| {
            strings.push((class, string.to_owned()));
            ControlFlow::<()>::Continue(())
        };
        let _ = input.0.each_string(Class::STRUCTURE, &mut push);
        let _ = input.1.each_string(Class::STRUCTURE, &mut push);
        strings
    }

    fn strings(walked: Vec<(Class, String)>) -> Vec<String> {
        walked.into_iter().map(|(_, string)| string).collect()
    }

    #[test]
    fn the_walk_visits_every_string_of_the_input_once() {
        let input = shown_to(InputFields::all());
        let printed = [debug_strings(&input.0), debug_strings(&input.1)].concat();
        assert_eq!(strings(walk(&input)), printed);
    }

    #[test]
    fn a_plugin_that_reads_every_group_is_shown_everything() {
        let input = (filled::installation(), filled::events());
        assert_eq!(shown_to(InputFields::all()), input);
    }

    #[test]
    fn a_plugin_that_reads_no_group_is_shown_no_string() {
        let shown = shown_to(InputFields::empty());
        for (class, string) in walk(&shown) {
            assert_eq!(string, "", "{class:?}");
        }
        // What is left is the structure: the events, the fleet's records,
        // and one empty entry for each DataStore user.
        assert_eq!(shown.0, Installation::default());
        assert_eq!(shown.1.len(), 2);
    }

    /// What withholding leaves a plugin that reads one group is exactly the
    /// strings that the leak guard's walk classes as shown to that group:
    /// the two read one table.
    #[test]
    fn a_plugin_that_reads_one_group_is_shown_the_strings_of_its_classes() {
        let everything = walk(&shown_to(InputFields::all()));
        for (group, name, _) in InputFields::GROUPS {
            let expected: Vec<String> = everything
                .iter()
                .filter(|(class, _)| class.is_shown_to(group))
                .map(|(_, string)| string.clone())
                .collect();
            assert!(!expected.is_empty(), "{name} shows something");
            let mut shown = strings(walk(&shown_to(group)));
            shown.retain(|string| !string.is_empty());
            assert_eq!(shown, expected, "{name}");
        }
    }
}
