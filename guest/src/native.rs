//! The host's model as the plugin's own types, for hosts that call the
//! plugin's Rust API natively: the benchmarks' native contender and the fuzz
//! oracle. (Only with the `native` feature.)
//!
//! Converting is a deep copy of every string and list, which stands in for
//! what a component call does when it lowers an event into the guest's
//! memory.

use kamaji_telemetry_core::model as host;

use crate as guest;

/// [`crate::handle`] on the host's model: what the component gives the host
/// for the same event, when it is shown the same input.
pub fn handle(
    installation: &host::Installation,
    event: &host::Event,
) -> Result<Option<guest::Payload>, guest::PluginError> {
    crate::handle(&self::installation(installation), &self::event(event))
}

pub fn installation(i: &host::Installation) -> guest::Installation {
    guest::Installation {
        cluster_uid: i.cluster_uid.clone(),
        kamaji_version: i.kamaji_version.clone(),
        kubernetes_version: i.kubernetes_version.clone(),
    }
}

pub fn event(event: &host::Event) -> guest::Event {
    match event {
        host::Event::Created(tcp) => guest::Event::Created(tenant_control_plane(tcp)),
        host::Event::Updated(update) => guest::Event::Updated(guest::TcpUpdate {
            previous: tenant_control_plane(&update.previous),
            current: tenant_control_plane(&update.current),
        }),
        host::Event::Deleted(tcp) => guest::Event::Deleted(tenant_control_plane(tcp)),
        host::Event::Heartbeat(fleet) => guest::Event::Heartbeat(guest::Fleet {
            tenant_control_planes: fleet
                .tenant_control_planes
                .iter()
                .map(tenant_control_plane)
                .collect(),
            data_stores: fleet.data_stores.iter().map(data_store).collect(),
        }),
    }
}

fn tenant_control_plane(t: &host::TenantControlPlane) -> guest::TenantControlPlane {
    guest::TenantControlPlane {
        name: t.name.clone(),
        namespace: t.namespace.clone(),
        uid: t.uid.clone(),
        labels: t.labels.iter().map(key_value).collect(),
        annotations: t.annotations.iter().map(key_value).collect(),
        owner_references: t.owner_references.iter().map(owner_reference).collect(),
        desired_version: t.desired_version.clone(),
        installed_version: t.installed_version.clone(),
        status: t.status.clone(),
        service_type: t.service_type.clone(),
        ingress: t.ingress.as_ref().map(|i| guest::IngressExposure {
            hostname: i.hostname.clone(),
            class_name: i.class_name.clone(),
        }),
        gateway: t.gateway.as_ref().map(|g| guest::GatewayExposure {
            hostname: g.hostname.clone(),
        }),
        network_address: t.network_address.clone(),
        endpoint: t.endpoint.clone(),
        data_store: t.data_store.clone(),
    }
}

fn key_value(pair: &host::KeyValue) -> guest::KeyValue {
    guest::KeyValue {
        key: pair.key.clone(),
        value: pair.value.clone(),
    }
}

fn owner_reference(owner: &host::OwnerReference) -> guest::OwnerReference {
    guest::OwnerReference {
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
    }
}

/// Withheld `used-by` entries are empty strings (see the host's
/// `DataStore::withhold`); the contract then passes only the count.
fn data_store(store: &host::DataStore) -> guest::DataStore {
    guest::DataStore {
        name: store.name.clone(),
        driver: store.driver.clone(),
        used_by: store
            .used_by
            .iter()
            .filter(|user| !user.is_empty())
            .cloned()
            .collect(),
        used_by_count: u32::try_from(store.used_by.len()).unwrap_or(u32::MAX),
    }
}
