//! What a plugin is shown of an event: only the input fields it declared
//! that it reads ([`InputFields`]). The others reach it empty: an empty
//! string, an empty list, `none`.
//!
//! Withholding happens before anything is lowered into the plugin's memory,
//! so a plugin that reads little also costs little: the default plugin reads
//! no name, label or address, and none is ever copied into its instance.

use crate::classified::{Class, Classified};
use crate::model::{DataStore, Event, InputFields, Installation, TenantControlPlane};

/// What a plugin that reads `reads` is shown of an installation and a batch
/// of events: the input itself, every field it did not declare emptied in
/// place. Nothing is copied: a plugin that reads everything is shown the
/// input as it came, and withholding what is already withheld changes nothing.
#[derive(Debug)]
pub struct Shown {
    pub installation: Installation,
    pub events: Vec<Event>,
}

impl Shown {
    pub fn to(reads: InputFields, mut installation: Installation, mut events: Vec<Event>) -> Self {
        installation.withhold(reads);
        for event in &mut events {
            event.withhold(reads);
        }
        Shown {
            installation,
            events,
        }
    }
}

// Each type's own fields, and the groups that show them, are in the tables
// of `crate::classified`, which the leak guard reads too.

impl Installation {
    /// Empties every field outside `reads`.
    pub fn withhold(&mut self, reads: InputFields) {
        self.withhold_as(Class::STRUCTURE, reads);
    }
}

impl Event {
    /// Empties every field outside `reads`.
    pub fn withhold(&mut self, reads: InputFields) {
        self.withhold_as(Class::STRUCTURE, reads);
    }
}

impl TenantControlPlane {
    /// Empties every field outside `reads`. Owner references are kept, one
    /// for one, when either half is read; whether it has an ingress or a
    /// gateway is `exposure`, where to is `addresses`.
    pub fn withhold(&mut self, reads: InputFields) {
        self.withhold_as(Class::STRUCTURE, reads);
    }
}

impl DataStore {
    /// Empties every field outside `reads`. Withheld `used-by` entries become
    /// empty strings, one for each: how many TCPs use a DataStore identifies
    /// nothing, and contracts with declarations pass that count beside an
    /// empty list.
    pub fn withhold(&mut self, reads: InputFields) {
        self.withhold_as(Class::STRUCTURE, reads);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GatewayExposure, IngressExposure, KeyValue, OwnerReference};

    /// What a plugin that reads `reads` is shown of `tcp`.
    fn shown(mut tcp: TenantControlPlane, reads: InputFields) -> TenantControlPlane {
        tcp.withhold(reads);
        tcp
    }

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
        assert_eq!(shown(tcp(), InputFields::all()), tcp());
    }

    #[test]
    fn nothing_identifying_is_shown_to_a_plugin_that_reads_only_what_the_default_reads() {
        let reads = InputFields::VERSIONS
            | InputFields::STATUS
            | InputFields::EXPOSURE
            | InputFields::OWNER_KINDS;
        let shown = shown(tcp(), reads);
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
        let shown = shown(tcp(), InputFields::empty());
        assert_eq!(shown, TenantControlPlane::default());
    }

    #[test]
    fn a_data_store_keeps_its_count_but_not_its_users_when_used_by_is_withheld() {
        let store = DataStore {
            name: "etcd-a".into(),
            driver: "etcd".into(),
            used_by: vec!["tenants/acme".into()],
        };
        let mut all = store.clone();
        all.withhold(InputFields::all());
        assert_eq!(all, store);
        let mut shown = store;
        shown.withhold(InputFields::DRIVERS);
        assert_eq!((shown.name.as_str(), shown.driver.as_str()), ("", "etcd"));
        assert_eq!(shown.used_by, [""]);
    }

    #[test]
    fn a_gateway_shows_that_it_exists_to_exposure_and_where_to_addresses() {
        let gateway = |hostname: Option<&str>| TenantControlPlane {
            gateway: Some(GatewayExposure {
                hostname: hostname.map(Into::into),
            }),
            ..TenantControlPlane::default()
        };
        let routed = gateway(Some("k8s.acme.example"));
        assert_eq!(shown(routed.clone(), InputFields::EXPOSURE), gateway(None));
        assert_eq!(shown(routed.clone(), InputFields::ADDRESSES), routed);
        assert_eq!(shown(routed, InputFields::STATUS).gateway, None);
    }

    #[test]
    fn withholding_what_is_withheld_changes_nothing() {
        let reads = InputFields::VERSIONS | InputFields::OWNER_KINDS | InputFields::DRIVERS;
        let once = shown(tcp(), reads);
        assert_ne!(once, tcp());
        assert_eq!(shown(once.clone(), reads), once);
    }
}
