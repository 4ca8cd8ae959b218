//! What a plugin is shown of an event: only the input fields it declared
//! that it reads ([`InputFields`]). The others reach it empty: an empty
//! string, an empty list, `none`.
//!
//! Withholding happens before anything is lowered into the plugin's memory,
//! so a plugin that reads little also costs little: the default plugin reads
//! no name, label or address, and none is ever copied into its instance.

use std::borrow::Cow;

use crate::model::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, InputFields, Installation, KeyValue,
    OwnerReference, TcpUpdate, TenantControlPlane,
};

/// What a plugin that reads `reads` is shown of an installation and a batch
/// of events. A plugin that reads everything is shown the input itself.
#[derive(Debug)]
pub struct Shown<'a> {
    pub installation: Cow<'a, Installation>,
    pub events: Cow<'a, [Event]>,
}

impl<'a> Shown<'a> {
    pub fn to(reads: InputFields, installation: &'a Installation, events: &'a [Event]) -> Self {
        if reads.is_all() {
            return Shown {
                installation: Cow::Borrowed(installation),
                events: Cow::Borrowed(events),
            };
        }
        Shown {
            installation: Cow::Owned(installation.visible_to(reads)),
            events: events.iter().map(|event| event.visible_to(reads)).collect(),
        }
    }
}

impl Installation {
    /// The installation with only the fields of `reads`.
    pub fn visible_to(&self, reads: InputFields) -> Installation {
        Installation {
            cluster_uid: given(reads, InputFields::CLUSTER_UID, &self.cluster_uid),
            kamaji_version: given(reads, InputFields::VERSIONS, &self.kamaji_version),
            kubernetes_version: given(reads, InputFields::VERSIONS, &self.kubernetes_version),
        }
    }
}

impl Event {
    /// The event with only the fields of `reads`.
    pub fn visible_to(&self, reads: InputFields) -> Event {
        match self {
            Event::Created(tcp) => Event::Created(tcp.visible_to(reads)),
            Event::Updated(update) => Event::Updated(TcpUpdate {
                previous: update.previous.visible_to(reads),
                current: update.current.visible_to(reads),
            }),
            Event::Deleted(tcp) => Event::Deleted(tcp.visible_to(reads)),
            Event::Heartbeat(fleet) => Event::Heartbeat(Fleet {
                tenant_control_planes: fleet
                    .tenant_control_planes
                    .iter()
                    .map(|tcp| tcp.visible_to(reads))
                    .collect(),
                data_stores: fleet
                    .data_stores
                    .iter()
                    .map(|store| store.visible_to(reads))
                    .collect(),
            }),
        }
    }
}

impl TenantControlPlane {
    /// The TCP with only the fields of `reads`.
    pub fn visible_to(&self, reads: InputFields) -> TenantControlPlane {
        let exposure = reads.contains(InputFields::EXPOSURE);
        let addresses = reads.contains(InputFields::ADDRESSES);
        TenantControlPlane {
            name: given(reads, InputFields::IDENTITY, &self.name),
            namespace: given(reads, InputFields::IDENTITY, &self.namespace),
            uid: given(reads, InputFields::IDENTITY, &self.uid),
            labels: pairs(reads, InputFields::LABELS, &self.labels),
            annotations: pairs(reads, InputFields::ANNOTATIONS, &self.annotations),
            owner_references: owners(reads, &self.owner_references),
            desired_version: optional(reads, InputFields::VERSIONS, &self.desired_version),
            installed_version: optional(reads, InputFields::VERSIONS, &self.installed_version),
            status: optional(reads, InputFields::STATUS, &self.status),
            service_type: optional(reads, InputFields::EXPOSURE, &self.service_type),
            // Whether it is exposed is `exposure`; where to is `addresses`.
            ingress: self
                .ingress
                .as_ref()
                .filter(|_| exposure || addresses)
                .map(|ingress| IngressExposure {
                    hostname: ingress.hostname.clone().filter(|_| addresses),
                    class_name: ingress.class_name.clone().filter(|_| exposure),
                }),
            gateway: self
                .gateway
                .as_ref()
                .filter(|_| exposure || addresses)
                .map(|gateway| GatewayExposure {
                    hostname: gateway.hostname.clone().filter(|_| addresses),
                }),
            network_address: optional(reads, InputFields::ADDRESSES, &self.network_address),
            endpoint: optional(reads, InputFields::ADDRESSES, &self.endpoint),
            data_store: optional(reads, InputFields::DATA_STORE_NAMES, &self.data_store),
        }
    }
}

impl DataStore {
    /// The DataStore with only the fields of `reads`. Withheld `used-by`
    /// entries are empty strings, one for each: how many TCPs use a DataStore
    /// identifies nothing, and contracts with declarations pass that count
    /// beside an empty list.
    pub fn visible_to(&self, reads: InputFields) -> DataStore {
        DataStore {
            name: given(reads, InputFields::DATA_STORE_NAMES, &self.name),
            driver: given(reads, InputFields::DRIVERS, &self.driver),
            used_by: if reads.contains(InputFields::USED_BY) {
                self.used_by.clone()
            } else {
                vec![String::new(); self.used_by.len()]
            },
        }
    }
}

fn given(reads: InputFields, group: InputFields, value: &str) -> String {
    if reads.contains(group) {
        value.to_owned()
    } else {
        String::new()
    }
}

fn optional(reads: InputFields, group: InputFields, value: &Option<String>) -> Option<String> {
    value.clone().filter(|_| reads.contains(group))
}

fn pairs(reads: InputFields, group: InputFields, pairs: &[KeyValue]) -> Vec<KeyValue> {
    if reads.contains(group) {
        pairs.to_vec()
    } else {
        Vec::new()
    }
}

/// Owner references are kept, one for one, when either half is read, so a
/// plugin that reads kinds sees every owner's kind.
fn owners(reads: InputFields, owners: &[OwnerReference]) -> Vec<OwnerReference> {
    let kinds = reads.contains(InputFields::OWNER_KINDS);
    let identity = reads.contains(InputFields::OWNER_IDENTITY);
    if !(kinds || identity) {
        return Vec::new();
    }
    owners
        .iter()
        .map(|owner| OwnerReference {
            api_version: if kinds {
                owner.api_version.clone()
            } else {
                String::new()
            },
            kind: if kinds {
                owner.kind.clone()
            } else {
                String::new()
            },
            name: if identity {
                owner.name.clone()
            } else {
                String::new()
            },
            uid: if identity {
                owner.uid.clone()
            } else {
                String::new()
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp() -> TenantControlPlane {
        let pair = |key: &str, value: &str| KeyValue {
            key: key.into(),
            value: value.into(),
        };
        TenantControlPlane {
            name: "acme".into(),
            namespace: "tenants".into(),
            uid: "u-1".into(),
            labels: vec![pair("team", "payments")],
            annotations: vec![pair("note", "x")],
            owner_references: vec![OwnerReference {
                api_version: "controlplane.cluster.x-k8s.io/v1alpha1".into(),
                kind: "KamajiControlPlane".into(),
                name: "owner".into(),
                uid: "u-2".into(),
            }],
            desired_version: Some("v1.30.2".into()),
            installed_version: Some("v1.30.1".into()),
            status: Some("Ready".into()),
            service_type: Some("LoadBalancer".into()),
            ingress: Some(IngressExposure {
                hostname: Some("k8s.acme.example".into()),
                class_name: Some("nginx".into()),
            }),
            gateway: None,
            network_address: Some("198.51.100.7".into()),
            endpoint: Some("198.51.100.7:6443".into()),
            data_store: Some("etcd-a".into()),
        }
    }

    #[test]
    fn everything_is_shown_to_a_plugin_that_reads_everything() {
        assert_eq!(tcp().visible_to(InputFields::all()), tcp());
    }

    #[test]
    fn nothing_identifying_is_shown_to_a_plugin_that_reads_only_what_the_default_reads() {
        let reads = InputFields::VERSIONS
            | InputFields::STATUS
            | InputFields::EXPOSURE
            | InputFields::OWNER_KINDS;
        let shown = tcp().visible_to(reads);
        assert_eq!((shown.name.as_str(), shown.namespace.as_str()), ("", ""));
        assert!(shown.labels.is_empty() && shown.annotations.is_empty());
        assert_eq!(shown.owner_references[0].kind, "KamajiControlPlane");
        assert_eq!(shown.owner_references[0].name, "");
        assert_eq!(
            shown.ingress,
            Some(IngressExposure {
                hostname: None,
                class_name: Some("nginx".into())
            })
        );
        assert_eq!((shown.network_address, shown.endpoint), (None, None));
        assert_eq!(shown.data_store, None);
        assert_eq!(shown.status.as_deref(), Some("Ready"));
    }

    #[test]
    fn a_plugin_that_reads_nothing_sees_no_exposure_and_no_owners() {
        let shown = tcp().visible_to(InputFields::empty());
        assert_eq!(shown, TenantControlPlane::default());
    }

    #[test]
    fn a_data_store_keeps_its_count_but_not_its_users_when_used_by_is_withheld() {
        let store = DataStore {
            name: "etcd-a".into(),
            driver: "etcd".into(),
            used_by: vec!["tenants/acme".into()],
        };
        assert_eq!(store.visible_to(InputFields::all()), store);
        let shown = store.visible_to(InputFields::DRIVERS);
        assert_eq!((shown.name.as_str(), shown.driver.as_str()), ("", "etcd"));
        assert_eq!(shown.used_by, [""]);
    }
}
