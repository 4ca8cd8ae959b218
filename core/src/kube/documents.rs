//! What one document means: the event it gives, if any.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::DecodeErrorKind;
use super::objects::{AdmissionRequest, KubeObject, ObjectSeed};
use crate::model::{DataStore, Event, Fleet, InputFields, TcpUpdate, TenantControlPlane};

const KAMAJI_GROUP: &str = "kamaji.clastix.io";
const ADMISSION_GROUP: &str = "admission.k8s.io";

/// The top level of a document: one object, or a bare array of objects as
/// `jq .items` prints it, read like the items of a `List`.
pub(super) enum TopLevel<'a> {
    Object(Box<KubeObject<'a>>),
    Array(Items),
}

impl TopLevel<'_> {
    /// Gives a document whose items were read apart (see
    /// `framing::long_json`) its items back: its own are an empty array.
    pub(super) fn put_items(&mut self, items: Items) {
        match self {
            TopLevel::Array(own) => *own = items,
            TopLevel::Object(object) => {
                if let Some(own) = &mut object.items {
                    *own = items;
                }
            }
        }
    }
}

/// Reads the top level; a list's items keep only the fields of `shown`.
pub(super) struct TopLevelSeed {
    pub shown: InputFields,
}

impl<'de> DeserializeSeed<'de> for TopLevelSeed {
    type Value = TopLevel<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevelSeed {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let object = ObjectSeed { shown: self.shown }.visit_map(map)?;
        Ok(TopLevel::Object(Box::new(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ItemsSeed { shown: self.shown }
            .visit_seq(seq)
            .map(TopLevel::Array)
    }
}

/// The items of a list, sorted into a fleet as they are read and given only
/// the fields the reader is shown, so that a large list is never held whole:
/// each item's other fields are dropped as soon as it is read.
pub(super) struct Items {
    fleet: Fleet,
    /// Items neither TenantControlPlanes nor DataStores.
    skipped: usize,
    /// Items that name no kind, as those of a typed list from the API server
    /// may, read both ways: the list's kind, which can come after them, says
    /// which they are.
    unnamed: Vec<(TenantControlPlane, DataStore)>,
    shown: InputFields,
}

impl Items {
    pub(super) fn new(shown: InputFields) -> Self {
        Items {
            fleet: Fleet {
                tenant_control_planes: Vec::new(),
                data_stores: Vec::new(),
            },
            skipped: 0,
            unnamed: Vec::new(),
            shown,
        }
    }

    pub(super) fn push(&mut self, item: KubeObject<'_>) {
        if !item.kind.is_empty() {
            let kind = kamaji_kind(&item.api_version, &item.kind);
            return self.add(kind, item);
        }
        let (mut tcp, mut store) = item.into_either();
        tcp.withhold(self.shown);
        store.withhold(self.shown);
        self.unnamed.push((tcp, store));
    }

    fn add(&mut self, kind: Option<KamajiKind>, item: KubeObject<'_>) {
        match kind {
            Some(KamajiKind::TenantControlPlane) => {
                let mut tcp = item.into_tenant_control_plane();
                tcp.withhold(self.shown);
                self.fleet.tenant_control_planes.push(tcp);
            }
            Some(KamajiKind::DataStore) => {
                let mut store = item.into_data_store();
                store.withhold(self.shown);
                self.fleet.data_stores.push(store);
            }
            None => self.skipped += 1,
        }
    }

    /// The items that named no kind are of the list's `element` kind.
    fn into_heartbeat(mut self, element: Option<KamajiKind>) -> Meaning {
        for (tcp, store) in std::mem::take(&mut self.unnamed) {
            match element {
                Some(KamajiKind::TenantControlPlane) => self.fleet.tenant_control_planes.push(tcp),
                Some(KamajiKind::DataStore) => self.fleet.data_stores.push(store),
                None => self.skipped += 1,
            }
        }
        // A large fleet's vectors grew by doubling: up to half of them is
        // room that will not be used.
        self.fleet.tenant_control_planes.shrink_to_fit();
        self.fleet.data_stores.shrink_to_fit();
        Meaning {
            event: Event::Heartbeat(self.fleet),
            skipped_items: self.skipped,
        }
    }
}

/// Reads a list's items; each keeps only the fields of `shown`.
pub(super) struct ItemsSeed {
    pub shown: InputFields,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Items::new(self.shown);
        let seed = ObjectSeed { shown: self.shown };
        while let Some(item) = seq.next_element_seed(seed)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// The event of one document, and how many list items it skipped for being
/// neither a TenantControlPlane nor a DataStore.
pub(super) struct Meaning {
    pub event: Event,
    pub skipped_items: usize,
}

impl Meaning {
    fn of(event: Event) -> Self {
        Meaning {
            event,
            skipped_items: 0,
        }
    }
}

/// An AdmissionReview's request uid, which the webhook's answer must echo,
/// and its event or the reason it has none.
#[derive(Debug)]
pub struct Admission {
    pub uid: String,
    pub event: Result<Event, DecodeErrorKind>,
}

#[derive(Clone, Copy)]
enum KamajiKind {
    TenantControlPlane,
    DataStore,
}

/// What a document is, from its `apiVersion` and `kind`.
enum DocumentKind {
    AdmissionReview,
    /// A list, with the kind of the items that do not name their own.
    List(Option<KamajiKind>),
    Kamaji(KamajiKind),
    Other,
}

pub(super) fn interpret(top: TopLevel<'_>, shown: InputFields) -> Result<Meaning, DecodeErrorKind> {
    let object = match top {
        TopLevel::Array(items) => return Ok(items.into_heartbeat(None)),
        TopLevel::Object(object) => *object,
    };
    match classify(&object.api_version, &object.kind) {
        DocumentKind::AdmissionReview => admission(object)?.event.map(Meaning::of),
        DocumentKind::List(element) => Ok(object
            .items
            .unwrap_or_else(|| Items::new(shown))
            .into_heartbeat(element)),
        DocumentKind::Kamaji(KamajiKind::TenantControlPlane) => Ok(Meaning::of(Event::Created(
            object.into_tenant_control_plane(),
        ))),
        // A DataStore alone is a heartbeat of just it (see the module docs).
        DocumentKind::Kamaji(KamajiKind::DataStore) => {
            let mut items = Items::new(shown);
            items.add(Some(KamajiKind::DataStore), object);
            Ok(items.into_heartbeat(None))
        }
        DocumentKind::Other => Err(unsupported(object)),
    }
}

fn classify(api_version: &str, kind: &str) -> DocumentKind {
    if let Some(kamaji) = kamaji_kind(api_version, kind) {
        return DocumentKind::Kamaji(kamaji);
    }
    match (group_of(api_version), kind) {
        (ADMISSION_GROUP, "AdmissionReview") => DocumentKind::AdmissionReview,
        (_, "List") => DocumentKind::List(None),
        (KAMAJI_GROUP, "TenantControlPlaneList") => {
            DocumentKind::List(Some(KamajiKind::TenantControlPlane))
        }
        (KAMAJI_GROUP, "DataStoreList") => DocumentKind::List(Some(KamajiKind::DataStore)),
        _ => DocumentKind::Other,
    }
}

fn kamaji_kind(api_version: &str, kind: &str) -> Option<KamajiKind> {
    match (group_of(api_version), kind) {
        (KAMAJI_GROUP, "TenantControlPlane") => Some(KamajiKind::TenantControlPlane),
        (KAMAJI_GROUP, "DataStore") => Some(KamajiKind::DataStore),
        _ => None,
    }
}

/// The API group of an `apiVersion`: empty for the core group's `v1`.
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Reads an object that should be an AdmissionReview.
pub(super) fn admission_review(object: KubeObject<'_>) -> Result<Admission, DecodeErrorKind> {
    match classify(&object.api_version, &object.kind) {
        DocumentKind::AdmissionReview => admission(object),
        _ => Err(unsupported(object)),
    }
}

fn unsupported(object: KubeObject<'_>) -> DecodeErrorKind {
    DecodeErrorKind::UnsupportedKind {
        api_version: object.api_version.into_owned(),
        kind: object.kind.into_owned(),
    }
}

/// Reads an object already known to be an AdmissionReview.
fn admission(review: KubeObject<'_>) -> Result<Admission, DecodeErrorKind> {
    let mut request = review
        .request
        .ok_or(DecodeErrorKind::MissingField("request"))?;
    let uid = request.uid.take().unwrap_or_default();
    Ok(Admission {
        uid,
        event: lifecycle_event(*request),
    })
}

/// The API server sends the object being written in `object`, and the stored
/// one in `oldObject`: both on UPDATE, only the old one on DELETE.
fn lifecycle_event(request: AdmissionRequest<'_>) -> Result<Event, DecodeErrorKind> {
    let kind = request.kind.unwrap_or_default();
    if (&*kind.group, &*kind.kind) != (KAMAJI_GROUP, "TenantControlPlane") {
        return Err(DecodeErrorKind::NotTenantControlPlaneAdmission {
            group: kind.group.into_owned(),
            kind: kind.kind.into_owned(),
        });
    }
    let object = || required(request.object, "request.object");
    let old_object = || required(request.old_object, "request.oldObject");
    match &*request.operation {
        "CREATE" => object().map(Event::Created),
        "UPDATE" => Ok(Event::Updated(TcpUpdate {
            previous: old_object()?,
            current: object()?,
        })),
        "DELETE" => old_object().map(Event::Deleted),
        other => Err(DecodeErrorKind::UnsupportedOperation(other.to_owned())),
    }
}

/// The TenantControlPlane in `field`. An object of another kind than
/// `request.kind` says is skipped: its fields would be read as a TCP's.
fn required(
    object: Option<KubeObject<'_>>,
    field: &'static str,
) -> Result<TenantControlPlane, DecodeErrorKind> {
    let object = object.ok_or(DecodeErrorKind::MissingField(field))?;
    let names_a_kind = !object.kind.is_empty();
    let is_tcp = matches!(
        kamaji_kind(&object.api_version, &object.kind),
        Some(KamajiKind::TenantControlPlane)
    );
    if names_a_kind && !is_tcp {
        return Err(DecodeErrorKind::AdmissionObjectKind {
            field,
            api_version: object.api_version.into_owned(),
            kind: object.kind.into_owned(),
        });
    }
    Ok(object.into_tenant_control_plane())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_api_versions() {
        assert_eq!(group_of("kamaji.clastix.io/v1alpha1"), KAMAJI_GROUP);
        assert_eq!(group_of("admission.k8s.io/v1"), ADMISSION_GROUP);
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of(""), "");
    }

    #[test]
    fn kamaji_kinds_need_the_kamaji_group() {
        assert!(matches!(
            classify("kamaji.clastix.io/v1alpha1", "TenantControlPlane"),
            DocumentKind::Kamaji(KamajiKind::TenantControlPlane)
        ));
        assert!(matches!(
            classify("example.com/v1", "TenantControlPlane"),
            DocumentKind::Other
        ));
        assert!(matches!(
            classify("kamaji.clastix.io/v1alpha1", "DataStoreList"),
            DocumentKind::List(Some(KamajiKind::DataStore))
        ));
        assert!(matches!(classify("v1", "List"), DocumentKind::List(None)));
        assert!(matches!(
            classify("admission.k8s.io/v1beta1", "AdmissionReview"),
            DocumentKind::AdmissionReview
        ));
    }
}
