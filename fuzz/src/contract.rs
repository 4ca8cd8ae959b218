//! The fuzz model as the host's model, which the decoder gives and the leak
//! guard reads. (The plugin's native API takes the host's model through
//! `kamaji_telemetry_plugin::native`.)

use std::collections::BTreeMap;

use crate::model::{DataStoreModel, EventModel, InstallationModel, OwnerModel, TcpModel, Text};

/// Labels and annotations as the API server holds them: a map, so one value
/// per key (the last one written), sorted by key as the decoder lists them.
pub(crate) fn map_entries(entries: &[(Text, Text)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(key, value)| (key.render(), value.render()))
        .collect()
}

pub(crate) fn render(text: &Option<Text>) -> Option<String> {
    text.as_ref().map(Text::render)
}

/// The host's records.
pub mod host {
    use super::*;
    use kamaji_telemetry::model as contract;

    pub fn installation(model: &InstallationModel) -> contract::Installation {
        contract::Installation {
            cluster_uid: model.cluster_uid.render(),
            kamaji_version: model.kamaji_version.render(),
            kubernetes_version: model.kubernetes_version.render(),
        }
    }

    pub fn event(model: &EventModel) -> contract::Event {
        match model {
            EventModel::Created(tcp) => contract::Event::Created(tenant_control_plane(tcp)),
            EventModel::Updated { previous, current } => {
                contract::Event::Updated(contract::TcpUpdate {
                    previous: tenant_control_plane(previous),
                    current: tenant_control_plane(current),
                })
            }
            EventModel::Deleted(tcp) => contract::Event::Deleted(tenant_control_plane(tcp)),
            EventModel::Heartbeat { tcps, data_stores } => {
                contract::Event::Heartbeat(contract::Fleet {
                    tenant_control_planes: tcps.iter().map(tenant_control_plane).collect(),
                    data_stores: data_stores.iter().map(data_store).collect(),
                })
            }
        }
    }

    fn tenant_control_plane(tcp: &TcpModel) -> contract::TenantControlPlane {
        contract::TenantControlPlane {
            name: tcp.name.render(),
            namespace: tcp.namespace.render(),
            uid: tcp.uid.render(),
            labels: key_values(&tcp.labels),
            annotations: key_values(&tcp.annotations),
            owner_references: tcp.owners.iter().map(owner_reference).collect(),
            desired_version: render(&tcp.desired_version),
            installed_version: render(&tcp.installed_version),
            status: render(&tcp.status),
            service_type: render(&tcp.service_type),
            ingress: tcp
                .ingress
                .as_ref()
                .map(|(hostname, class_name)| contract::IngressExposure {
                    hostname: render(hostname),
                    class_name: render(class_name),
                }),
            gateway: tcp
                .gateway
                .as_ref()
                .map(|hostname| contract::GatewayExposure {
                    hostname: render(hostname),
                }),
            network_address: render(&tcp.network_address),
            endpoint: render(&tcp.endpoint),
            data_store: render(&tcp.data_store),
        }
    }

    fn key_values(entries: &[(Text, Text)]) -> Vec<contract::KeyValue> {
        map_entries(entries)
            .into_iter()
            .map(|(key, value)| contract::KeyValue { key, value })
            .collect()
    }

    fn owner_reference(owner: &OwnerModel) -> contract::OwnerReference {
        contract::OwnerReference {
            api_version: owner.api_version.render(),
            kind: owner.kind.render(),
            name: owner.name.render(),
            uid: owner.uid.render(),
        }
    }

    fn data_store(store: &DataStoreModel) -> contract::DataStore {
        contract::DataStore {
            name: store.name.render(),
            driver: store.driver.render(),
            used_by: store.used_by.iter().map(Text::render).collect(),
        }
    }
}
