//! The parts of Kubernetes objects that the contract needs, as serde shapes,
//! and how they map onto the model's records.
//!
//! Each shape names only the fields that are mapped, so serde skips the rest
//! of an object without building it, and the parts that hold them (`parts`)
//! skip the fields the reader is not shown too, unchecked, in JSON and YAML
//! alike. Every field is optional: manifests written by hand have no status,
//! uid or namespace, and YAML writes an empty key as null. A missing field
//! maps to `None` or an empty list, never to an error.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::documents::{Items, ItemsSeed};
use crate::model::{
    DataStore, GatewayExposure, IngressExposure, InputFields, OwnerReference, TenantControlPlane,
};

mod parts;

pub(super) use parts::AdmissionRequest;
use parts::{Metadata, OwnerRef, Spec, Status, read_part};

/// Any Kubernetes object, read for the fields that the kinds we decode have.
///
/// Which of them mean something depends on `kind`: `request` for an
/// AdmissionReview, `items` for a list, `spec` and `status` for a
/// TenantControlPlane or a DataStore. One shape for all of them lets a document
/// be read in a single pass, whatever order its keys come in.
///
/// Read by hand ([`ObjectSeed`]) rather than derived, so that a list's items
/// can be given the fields the reader is shown as they are read.
pub(super) struct KubeObject<'a> {
    // Borrowed when the input allows: these are only compared, never kept.
    pub api_version: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    metadata: Option<Metadata>,
    spec: Option<Spec>,
    status: Option<Status>,
    pub request: Option<Box<AdmissionRequest<'a>>>,
    pub items: Option<Items>,
}

/// Reads a [`KubeObject`] with only the fields of `shown`: its parts, its
/// list's items and its admission's objects alike.
#[derive(Clone, Copy)]
pub(super) struct ObjectSeed {
    pub shown: InputFields,
}

// Every field shown: the webhook body and an object already parsed (see
// `record`). Generic over both lifetimes, as serde derives it, so that an
// object may borrow from whatever outlives it.
impl<'de: 'a, 'a> Deserialize<'de> for KubeObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ObjectSeed {
            shown: InputFields::all(),
        }
        .deserialize(deserializer)
    }
}

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = KubeObject<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// The keys of an object that are read; any other is skipped unbuilt.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Key {
    ApiVersion,
    Kind,
    Metadata,
    Spec,
    Status,
    Request,
    Items,
    #[serde(other)]
    Other,
}

impl<'de> Visitor<'de> for ObjectSeed {
    type Value = KubeObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = KubeObject {
            api_version: Cow::Borrowed(""),
            kind: Cow::Borrowed(""),
            metadata: None,
            spec: None,
            status: None,
            request: None,
            items: None,
        };
        let mut seen = [false; 7];
        while let Some(key) = map.next_key::<Key>()? {
            if let Some(index) = key.index()
                && std::mem::replace(&mut seen[index], true)
            {
                return Err(de::Error::duplicate_field(key.name()));
            }
            match key {
                Key::ApiVersion => object.api_version = map.next_value::<Text>()?.0,
                Key::Kind => object.kind = map.next_value::<Text>()?.0,
                Key::Metadata => object.metadata = read_part(&mut map, self.shown)?,
                Key::Spec => object.spec = read_part(&mut map, self.shown)?,
                Key::Status => object.status = read_part(&mut map, self.shown)?,
                Key::Request => object.request = read_part(&mut map, self.shown)?.map(Box::new),
                Key::Items => {
                    object.items =
                        map.next_value_seed(Nullable(ItemsSeed { shown: self.shown }))?;
                }
                Key::Other => drop(map.next_value::<de::IgnoredAny>()?),
            }
        }
        Ok(object)
    }
}

impl Key {
    /// Its place among the keys read once, and its name in the JSON.
    fn index(&self) -> Option<usize> {
        let index = match self {
            Key::ApiVersion => 0,
            Key::Kind => 1,
            Key::Metadata => 2,
            Key::Spec => 3,
            Key::Status => 4,
            Key::Request => 5,
            Key::Items => 6,
            Key::Other => return None,
        };
        Some(index)
    }

    fn name(&self) -> &'static str {
        match self {
            Key::ApiVersion => "apiVersion",
            Key::Kind => "kind",
            Key::Metadata => "metadata",
            Key::Spec => "spec",
            Key::Status => "status",
            Key::Request => "request",
            Key::Items => "items",
            Key::Other => "",
        }
    }
}

/// A string, borrowed from the input when it can be, as `#[serde(borrow)]`
/// would read it; null reads as empty, as the derived `default` did.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(value)))
    }
}

/// A value read with `S`, or null (`None`), as `Option` is read: the
/// seeded fields that a manifest may leave out or write as null.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

impl KubeObject<'_> {
    /// Maps the object's fields onto the contract's record (see the WIT docs).
    pub fn into_tenant_control_plane(self) -> TenantControlPlane {
        let metadata = self.metadata.unwrap_or_default();
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        let control_plane = spec.control_plane.unwrap_or_default();
        let version = status
            .kubernetes_resources
            .and_then(|resources| resources.version)
            .unwrap_or_default();
        TenantControlPlane {
            name: metadata.name.unwrap_or_default(),
            namespace: metadata.namespace.unwrap_or_default(),
            uid: metadata.uid.unwrap_or_default(),
            labels: metadata.labels.unwrap_or_default().0,
            annotations: metadata.annotations.unwrap_or_default().0,
            owner_references: metadata
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .map(OwnerReference::from)
                .collect(),
            desired_version: spec.kubernetes.and_then(|kubernetes| kubernetes.version),
            installed_version: version.version,
            status: version.status,
            service_type: control_plane
                .service
                .and_then(|service| service.service_type),
            ingress: control_plane.ingress.map(|ingress| IngressExposure {
                hostname: ingress.hostname,
                class_name: ingress.ingress_class_name,
            }),
            gateway: control_plane.gateway.map(|gateway| GatewayExposure {
                hostname: gateway.hostname,
            }),
            network_address: spec.network_profile.and_then(|profile| profile.address),
            endpoint: status.control_plane_endpoint,
            data_store: spec.data_store,
        }
    }

    /// An item of a typed list that names no kind: it is read both ways,
    /// as the list's kind, which may come after it, will choose one.
    pub fn into_either(mut self) -> (TenantControlPlane, DataStore) {
        let store = DataStore {
            name: self
                .metadata
                .as_ref()
                .and_then(|metadata| metadata.name.clone())
                .unwrap_or_default(),
            driver: self
                .spec
                .as_mut()
                .and_then(|spec| spec.driver.take())
                .unwrap_or_default(),
            used_by: self
                .status
                .as_mut()
                .and_then(|status| status.used_by.take())
                .unwrap_or_default(),
        };
        (self.into_tenant_control_plane(), store)
    }

    /// Maps the object's fields onto the contract's record (see the WIT docs).
    pub fn into_data_store(self) -> DataStore {
        DataStore {
            name: self.metadata.and_then(|m| m.name).unwrap_or_default(),
            driver: self.spec.and_then(|s| s.driver).unwrap_or_default(),
            used_by: self.status.and_then(|s| s.used_by).unwrap_or_default(),
        }
    }
}

impl From<OwnerRef> for OwnerReference {
    fn from(owner: OwnerRef) -> Self {
        OwnerReference {
            api_version: owner.api_version.unwrap_or_default(),
            kind: owner.kind.unwrap_or_default(),
            name: owner.name.unwrap_or_default(),
            uid: owner.uid.unwrap_or_default(),
        }
    }
}
