//! What one document means: the event it gives, if any.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::DecodeErrorKind;
use super::objects::{AdmissionRequest, KubeObject};
use crate::model::{Event, Fleet, TcpUpdate, TenantControlPlane};

const KAMAJI_GROUP: &str = "kamaji.clastix.io";
const ADMISSION_GROUP: &str = "admission.k8s.io";

/// The top level of a document: one object, or a bare array of objects as
/// `jq .items` prints it, read like the items of a `List`.
pub(super) enum TopLevel<'a> {
    Object(Box<KubeObject<'a>>),
    Array(Items<'a>),
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let object = KubeObject::deserialize(MapAccessDeserializer::new(map))?;
        Ok(TopLevel::Object(Box::new(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Items::deserialize(SeqAccessDeserializer::new(seq)).map(TopLevel::Array)
    }
}

/// The items of a list, sorted into a fleet as they are read, so that a large
/// list is never held twice.
pub(super) struct Items<'a> {
    fleet: Fleet,
    /// Items neither TenantControlPlanes nor DataStores.
    skipped: usize,
    /// Items that name no kind, as those of a typed list from the API server
    /// may: the list's kind, which can come after them, says what they are.
    unnamed: Vec<KubeObject<'a>>,
}

impl Default for Items<'_> {
    fn default() -> Self {
        Items {
            fleet: Fleet {
                tenant_control_planes: Vec::new(),
                data_stores: Vec::new(),
            },
            skipped: 0,
            unnamed: Vec::new(),
        }
    }
}

impl<'a> Items<'a> {
    fn push(&mut self, item: KubeObject<'a>) {
        if item.kind.is_empty() {
            self.unnamed.push(item);
        } else {
            let kind = kamaji_kind(&item.api_version, &item.kind);
            self.add(kind, item);
        }
    }

    fn add(&mut self, kind: Option<KamajiKind>, item: KubeObject<'_>) {
        match kind {
            Some(KamajiKind::TenantControlPlane) => self
                .fleet
                .tenant_control_planes
                .push(item.into_tenant_control_plane()),
            Some(KamajiKind::DataStore) => self.fleet.data_stores.push(item.into_data_store()),
            None => self.skipped += 1,
        }
    }
}

// Generic over both lifetimes, as serde derives it, for `KubeObject<'a>` to
// borrow through its `items`.
impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ItemsVisitor(PhantomData))
    }
}

struct ItemsVisitor<'a>(PhantomData<Items<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for ItemsVisitor<'a> {
    type Value = Items<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Items::default();
        while let Some(item) = seq.next_element()? {
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

pub(super) fn interpret(top: TopLevel<'_>) -> Result<Meaning, DecodeErrorKind> {
    let object = match top {
        TopLevel::Array(items) => return Ok(heartbeat(items, None)),
        TopLevel::Object(object) => *object,
    };
    match classify(&object.api_version, &object.kind) {
        DocumentKind::AdmissionReview => admission(object)?.event.map(Meaning::of),
        DocumentKind::List(element) => Ok(heartbeat(object.items.unwrap_or_default(), element)),
        DocumentKind::Kamaji(KamajiKind::TenantControlPlane) => Ok(Meaning::of(Event::Created(
            object.into_tenant_control_plane(),
        ))),
        // A DataStore alone is a heartbeat of just it (see the module docs).
        DocumentKind::Kamaji(KamajiKind::DataStore) => {
            let mut items = Items::default();
            items.add(Some(KamajiKind::DataStore), object);
            Ok(heartbeat(items, None))
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

/// One heartbeat over a list's items; `element` is the kind of those that
/// name none.
fn heartbeat(mut items: Items<'_>, element: Option<KamajiKind>) -> Meaning {
    for item in std::mem::take(&mut items.unnamed) {
        items.add(element, item);
    }
    Meaning {
        event: Event::Heartbeat(items.fleet),
        skipped_items: items.skipped,
    }
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
