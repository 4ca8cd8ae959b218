//! Inputs shared by the tests: an empty TCP to fill in, one with every
//! identifying field set (values in the style of Kamaji's sample manifests),
//! and one sample event per route.

use crate::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, Installation, KeyValue,
    OwnerReference, Payload, Route, TcpUpdate, TenantControlPlane,
};
use serde_json::Value;

/// The cluster UID of Kamaji's documentation example.
pub const DOC_UID: &str = "56279633-3131-436b-b8f2-9008a49a2f12";

/// Its pseudonym, computed independently with Python's `uuid` module:
/// `uuid5(uuid5(NAMESPACE_URL, "https://github.com/clastix/kamaji#telemetry"), DOC_UID)`.
pub const DOC_ID: &str = "f82cf93d-528f-541c-8087-4c2f5fdfae0f";

/// The installation of Kamaji's documentation examples.
pub fn installation() -> Installation {
    Installation {
        cluster_uid: DOC_UID.into(),
        kamaji_version: "v0.6.1".into(),
        kubernetes_version: "v1.27.3".into(),
    }
}

/// A TCP with every field empty or absent.
pub fn tcp() -> TenantControlPlane {
    TenantControlPlane {
        name: String::new(),
        namespace: String::new(),
        uid: String::new(),
        labels: Vec::new(),
        annotations: Vec::new(),
        owner_references: Vec::new(),
        desired_version: None,
        installed_version: None,
        status: None,
        service_type: None,
        ingress: None,
        gateway: None,
        network_address: None,
        endpoint: None,
        data_store: None,
    }
}

/// An owner of the given kind, with an identifying name and UID.
pub fn owner(kind: &str) -> OwnerReference {
    OwnerReference {
        api_version: "controlplane.cluster.x-k8s.io/v1alpha1".into(),
        kind: kind.into(),
        name: "acme-prod-control-plane".into(),
        uid: "0b9e3c55-4a8f-4c1e-9f61-3a2d7e6b1c42".into(),
    }
}

/// A DataStore of the given driver, used by `users` TCPs.
pub fn data_store(driver: &str, users: usize) -> DataStore {
    DataStore {
        name: format!("acme-{}-gold", driver.to_lowercase()),
        driver: driver.into(),
        used_by: (0..users)
            .map(|i| format!("tenant-acme/k8s-13{i}"))
            .collect(),
        used_by_count: users as u32,
    }
}

/// A TCP with every field set, identifying ones included.
pub fn identified_tcp() -> TenantControlPlane {
    let pair = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: value.into(),
    };
    TenantControlPlane {
        name: "k8s-133".into(),
        namespace: "tenant-acme".into(),
        uid: "2f0e6f7c-1d51-4a8e-9c57-7d3f0b8e9a11".into(),
        labels: vec![
            pair("tenant.clastix.io", "k8s-133"),
            pair("acme.example/customer", "acme-corp"),
        ],
        annotations: vec![pair("owner.acme.example/email", "ops@acme.example")],
        owner_references: vec![owner("KamajiControlPlane")],
        desired_version: Some("v1.35.7".into()),
        installed_version: Some("v1.35.7".into()),
        status: Some("Ready".into()),
        service_type: Some("LoadBalancer".into()),
        ingress: Some(IngressExposure {
            hostname: Some("k8s-133.acme.example.com".into()),
            class_name: Some("nginx-acme".into()),
        }),
        gateway: Some(GatewayExposure {
            hostname: Some("c11.cluster.dev".into()),
        }),
        network_address: Some("192.0.2.10".into()),
        endpoint: Some("192.0.2.10:6443".into()),
        data_store: Some("postgresql-gold".into()),
    }
}

/// Every identifying string of a TCP: what must never reach a body.
pub fn identifying_strings(tcp: &TenantControlPlane) -> Vec<String> {
    let mut strings = vec![tcp.name.clone(), tcp.namespace.clone(), tcp.uid.clone()];
    for pair in tcp.labels.iter().chain(&tcp.annotations) {
        strings.extend([pair.key.clone(), pair.value.clone()]);
    }
    for owner in &tcp.owner_references {
        strings.extend([owner.name.clone(), owner.uid.clone()]);
    }
    let exposure = [
        tcp.ingress.as_ref().and_then(|i| i.hostname.clone()),
        tcp.ingress.as_ref().and_then(|i| i.class_name.clone()),
        tcp.gateway.as_ref().and_then(|g| g.hostname.clone()),
        tcp.network_address.clone(),
        tcp.endpoint.clone(),
        tcp.data_store.clone(),
    ];
    strings.extend(exposure.into_iter().flatten());
    strings.retain(|s| !s.is_empty());
    strings
}

/// A fleet of one identified TCP and one DataStore of each driver.
pub fn fleet() -> Fleet {
    Fleet {
        tenant_control_planes: vec![identified_tcp()],
        data_stores: ["etcd", "PostgreSQL", "MySQL", "NATS"]
            .map(|driver| data_store(driver, 1))
            .into(),
    }
}

/// An update that changes the version asked for.
pub fn upgrade(from: &str, to: &str) -> TcpUpdate {
    let previous = TenantControlPlane {
        desired_version: Some(from.into()),
        installed_version: Some(from.into()),
        ..identified_tcp()
    };
    let current = TenantControlPlane {
        desired_version: Some(to.into()),
        status: Some("Upgrading".into()),
        ..previous.clone()
    };
    TcpUpdate { previous, current }
}

/// One event per route, each with a payload.
pub fn sample_events() -> [Event; 4] {
    [
        Event::Heartbeat(fleet()),
        Event::Created(identified_tcp()),
        Event::Updated(upgrade("v1.34.2", "v1.35.7")),
        Event::Deleted(identified_tcp()),
    ]
}

/// The payload of an event that must produce one, for [`installation`].
pub fn payload(event: &Event) -> Payload {
    payload_for(&installation(), event)
}

/// The payload of an event that must produce one.
pub fn payload_for(installation: &Installation, event: &Event) -> Payload {
    crate::handle(installation, event)
        .expect("the event is handled")
        .expect("the event produces a payload")
}

/// The route and parsed body of an event's payload.
pub fn body(event: &Event) -> (Route, Value) {
    let payload = payload(event);
    let body = serde_json::from_str(&payload.body).expect("the body is JSON");
    (payload.route, body)
}

/// A route's path segment, to key maps and messages by.
pub fn route_name(route: Route) -> &'static str {
    match route {
        Route::Stats => "stats",
        Route::Create => "create",
        Route::Update => "update",
        Route::Delete => "delete",
    }
}

/// The fields Kamaji's backend requires non-empty, per route.
pub fn required_fields(route: Route) -> &'static [&'static str] {
    match route {
        Route::Stats => &["uuid", "kamaji_version", "kubernetes_version"],
        Route::Create => &["kamaji_version", "kubernetes_version", "tcp_version"],
        Route::Update => &[
            "kamaji_version",
            "kubernetes_version",
            "old_tcp_version",
            "new_tcp_version",
        ],
        Route::Delete => &[
            "kamaji_version",
            "kubernetes_version",
            "tcp_version",
            "status",
        ],
    }
}
