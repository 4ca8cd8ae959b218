//! The parts of an object that hold the mapped fields (`metadata`, `spec`,
//! `status`, an admission's `request`), each read key by key with what the
//! reader is shown.
//!
//! A key's value is read only when the reader is shown one of the groups of
//! the fields it holds; otherwise it is skipped unbuilt, so its type is not
//! checked, whether the document is JSON or YAML (the rule of "What each
//! document gives" in the [module docs](crate::kube)). Skipping is what
//! keeps a large List cheap for a plugin that reads little; checking in one
//! syntax only would make the same object good or bad by how it was written.
//! Each part's `read_value` is the one place that says which groups read
//! which of its keys.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{KubeObject, Nullable, ObjectSeed, Text};
use crate::model::{InputFields, KeyValue};

/// A part of an object, read key by key.
pub(super) trait Part<'de>: Default {
    /// Reads `key`'s value into the part if the reader is shown one of the
    /// groups of what it holds; skips it, unbuilt and unchecked, otherwise,
    /// or if the part maps no such key.
    fn read<A: MapAccess<'de>>(&mut self, key: &str, entry: Entry<'_, A>) -> Result<(), A::Error>;
}

/// Reads the value of the current key, a part or null, with what the reader
/// is shown.
pub(super) fn read_part<'de, T: Part<'de>, A: MapAccess<'de>>(
    map: &mut A,
    shown: InputFields,
) -> Result<Option<T>, A::Error> {
    map.next_value_seed(Nullable(PartSeed {
        shown,
        part: PhantomData,
    }))
}

/// The value of the key being read, and what the reader is shown.
pub(super) struct Entry<'m, A> {
    map: &'m mut A,
    shown: InputFields,
}

impl<'de, A: MapAccess<'de>> Entry<'_, A> {
    /// Whether the reader is shown one of `groups`.
    fn shows(&self, groups: InputFields) -> bool {
        self.shown.intersects(groups)
    }

    /// Reads the value into `field`.
    fn value<T: Deserialize<'de>>(self, field: &mut T) -> Result<(), A::Error> {
        *field = self.map.next_value()?;
        Ok(())
    }

    /// Reads the value, a part or null, into `field`.
    fn part<T: Part<'de>>(self, field: &mut Option<T>) -> Result<(), A::Error> {
        *field = read_part(self.map, self.shown)?;
        Ok(())
    }

    /// Reads the value, a string, into `field`, borrowed from the input
    /// when it can be.
    fn text(self, field: &mut Cow<'de, str>) -> Result<(), A::Error> {
        *field = self.map.next_value::<Text>()?.0;
        Ok(())
    }

    /// Reads the value, an object or null, into `field`, with what the
    /// reader is shown, as a list's items are.
    fn object(self, field: &mut Option<KubeObject<'de>>) -> Result<(), A::Error> {
        let shown = self.shown;
        *field = self.map.next_value_seed(Nullable(ObjectSeed { shown }))?;
        Ok(())
    }

    /// Reads a list, or null, for its length alone: `field` gets an empty
    /// string for each entry.
    fn count(self, field: &mut Option<Vec<String>>) -> Result<(), A::Error> {
        let count = self.map.next_value_seed(Nullable(CountSeed))?;
        *field = count.map(|count| vec![String::new(); count]);
        Ok(())
    }

    /// Skips the value, unbuilt and unchecked.
    fn skip(self) -> Result<(), A::Error> {
        self.map.next_value::<IgnoredAny>().map(drop)
    }
}

struct PartSeed<T> {
    shown: InputFields,
    part: PhantomData<T>,
}

impl<'de, T: Part<'de>> DeserializeSeed<'de> for PartSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Part<'de>> Visitor<'de> for PartSeed<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut part = T::default();
        while let Some(Text(key)) = map.next_key()? {
            let shown = self.shown;
            part.read(
                &key,
                Entry {
                    map: &mut map,
                    shown,
                },
            )?;
        }
        Ok(part)
    }
}

/// Implements [`Part`] for a struct from its table of keys,
/// `"key" if groups => how(field)`: the key's value is read into `field` by
/// [`Entry`]'s `how` when the reader is shown one of `groups`, always when
/// the row has no `if`; a key in no row, or whose groups are not shown, is
/// skipped unbuilt and unchecked. A macro, so that each part is its table
/// rather than a copy of the same `match`.
macro_rules! part {
    ($part:ident { $($key:literal $(if $groups:expr)? => $how:ident($field:ident)),+ $(,)? }) => {
        impl<'de> Part<'de> for $part {
            fn read<A: MapAccess<'de>>(
                &mut self,
                key: &str,
                entry: Entry<'_, A>,
            ) -> Result<(), A::Error> {
                match key {
                    $($key $(if entry.shows($groups))? => entry.$how(&mut self.$field),)+
                    _ => entry.skip(),
                }
            }
        }
    };
}

#[derive(Default)]
pub(super) struct Metadata {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub uid: Option<String>,
    pub labels: Option<KeyValues>,
    pub annotations: Option<KeyValues>,
    pub owner_references: Option<Vec<OwnerRef>>,
}

part!(Metadata {
    // A TenantControlPlane's name is `identity`, a DataStore's is
    // `data-store-names`: an object's kind may come after its metadata, or
    // not at all (a typed list's items).
    "name" if InputFields::IDENTITY | InputFields::DATA_STORE_NAMES => value(name),
    "namespace" if InputFields::IDENTITY => value(namespace),
    "uid" if InputFields::IDENTITY => value(uid),
    "labels" if InputFields::LABELS => value(labels),
    "annotations" if InputFields::ANNOTATIONS => value(annotations),
    "ownerReferences" if InputFields::OWNER_KINDS | InputFields::OWNER_IDENTITY => value(owner_references),
});

/// The `spec` fields of a TenantControlPlane and of a DataStore together.
#[derive(Default)]
pub(super) struct Spec {
    pub kubernetes: Option<KubernetesSpec>,
    pub control_plane: Option<ControlPlaneSpec>,
    pub network_profile: Option<NetworkProfile>,
    pub data_store: Option<String>,
    pub driver: Option<String>,
}

part!(Spec {
    "kubernetes" if InputFields::VERSIONS => value(kubernetes),
    // Whether it is exposed is `exposure`; where to is `addresses`.
    "controlPlane" if InputFields::EXPOSURE | InputFields::ADDRESSES => part(control_plane),
    "networkProfile" if InputFields::ADDRESSES => value(network_profile),
    "dataStore" if InputFields::DATA_STORE_NAMES => value(data_store),
    "driver" if InputFields::DRIVERS => value(driver),
});

/// `spec.controlPlane`, read for a reader shown `exposure` or `addresses`.
#[derive(Default)]
pub(super) struct ControlPlaneSpec {
    pub service: Option<ServiceSpec>,
    pub ingress: Option<IngressSpec>,
    pub gateway: Option<GatewaySpec>,
}

part!(ControlPlaneSpec {
    "service" if InputFields::EXPOSURE => value(service),
    "ingress" => part(ingress),
    "gateway" => part(gateway),
});

/// `spec.controlPlane.ingress`: where to is `addresses`, the class
/// `exposure`.
#[derive(Default)]
pub(super) struct IngressSpec {
    pub hostname: Option<String>,
    pub ingress_class_name: Option<String>,
}

part!(IngressSpec {
    "hostname" if InputFields::ADDRESSES => value(hostname),
    "ingressClassName" if InputFields::EXPOSURE => value(ingress_class_name),
});

/// `spec.controlPlane.gateway`: where to is `addresses`.
#[derive(Default)]
pub(super) struct GatewaySpec {
    pub hostname: Option<String>,
}

part!(GatewaySpec { "hostname" if InputFields::ADDRESSES => value(hostname) });

/// The `status` fields of a TenantControlPlane and of a DataStore together.
#[derive(Default)]
pub(super) struct Status {
    pub kubernetes_resources: Option<KubernetesResources>,
    pub control_plane_endpoint: Option<String>,
    pub used_by: Option<Vec<String>>,
}

part!(Status {
    "kubernetesResources" if InputFields::VERSIONS | InputFields::STATUS => part(kubernetes_resources),
    "controlPlaneEndpoint" if InputFields::ADDRESSES => value(control_plane_endpoint),
    "usedBy" if InputFields::USED_BY => value(used_by),
    // How many use it is shown to every plugin.
    "usedBy" => count(used_by),
});

/// `status.kubernetesResources`, read for a reader shown `versions` or
/// `status`.
#[derive(Default)]
pub(super) struct KubernetesResources {
    pub version: Option<VersionStatus>,
}

part!(KubernetesResources { "version" => part(version) });

/// `status.kubernetesResources.version`: what is installed, where
/// `spec.kubernetes.version` is what is asked for.
#[derive(Default)]
pub(super) struct VersionStatus {
    /// The Kubernetes version running now.
    pub version: Option<String>,
    /// Where the control plane stands: `Ready`, `Upgrading`, `Sleeping`, ….
    pub status: Option<String>,
}

part!(VersionStatus {
    "version" if InputFields::VERSIONS => value(version),
    "status" if InputFields::STATUS => value(status),
});

/// `request` of an AdmissionReview (admission.k8s.io/v1 and v1beta1 alike):
/// its objects keep only what the reader is shown, as a list's items do.
#[derive(Default)]
pub(in crate::kube) struct AdmissionRequest<'a> {
    pub uid: Option<String>,
    pub kind: Option<GroupVersionKind<'a>>,
    pub operation: Cow<'a, str>,
    pub object: Option<KubeObject<'a>>,
    pub old_object: Option<KubeObject<'a>>,
}

impl<'de> Part<'de> for AdmissionRequest<'de> {
    fn read<A: MapAccess<'de>>(&mut self, key: &str, entry: Entry<'_, A>) -> Result<(), A::Error> {
        match key {
            "uid" => entry.value(&mut self.uid),
            "kind" => entry.value(&mut self.kind),
            "operation" => entry.text(&mut self.operation),
            "object" => entry.object(&mut self.object),
            "oldObject" => entry.object(&mut self.old_object),
            _ => entry.skip(),
        }
    }
}

// The shapes below are read whole: the key that holds them was read
// because the reader is shown their one group (or, for owner references,
// either of their two).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OwnerRef {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub uid: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct KubernetesSpec {
    pub version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceSpec {
    pub service_type: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct NetworkProfile {
    pub address: Option<String>,
}

/// Counts the entries of a list without reading them.
struct CountSeed;

impl<'de> DeserializeSeed<'de> for CountSeed {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CountSeed {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(count)
    }
}

/// `request.kind`: the kind the admission is about.
#[derive(Default, Deserialize)]
pub(in crate::kube) struct GroupVersionKind<'a> {
    #[serde(borrow, default)]
    pub group: Cow<'a, str>,
    #[serde(borrow, default)]
    pub kind: Cow<'a, str>,
}

/// A label or annotation map, read straight into a list in the object's order
/// (the API server sorts the keys).
#[derive(Default)]
pub(super) struct KeyValues(pub Vec<KeyValue>);

impl<'de> Deserialize<'de> for KeyValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(KeyValuesVisitor)
    }
}

struct KeyValuesVisitor;

impl<'de> Visitor<'de> for KeyValuesVisitor {
    type Value = KeyValues;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyValues, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry()? {
            entries.push(KeyValue { key, value });
        }
        Ok(KeyValues(entries))
    }
}
