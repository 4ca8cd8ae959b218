//! Decoding real Kubernetes output: this repository's samples (AdmissionReviews
//! and a `kubectl get -o json` List) and Kamaji's own sample manifests.

use std::fs;
use std::path::{Path, PathBuf};

use kamaji_telemetry_core::kube::{DecodeErrorKind, decode_admission_review};
use kamaji_telemetry_core::model::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, OwnerReference, TcpUpdate,
    TenantControlPlane,
};

use crate::support::{assert_same, decode_all, key_values, only_event};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Kamaji's sample manifests, kept in the repository; a missing folder fails
/// the tests rather than letting them pass on nothing.
fn kamaji_samples() -> PathBuf {
    let dir = manifest_dir().join("../tests/fixtures/kamaji/samples");
    assert!(
        dir.is_dir(),
        "Kamaji's sample manifests are missing: expected them in {}",
        dir.display()
    );
    dir
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

fn some(value: &str) -> Option<String> {
    Some(value.to_string())
}

/// A TenantControlPlane with only a name: every other field as a manifest
/// without them maps it.
fn bare_tcp(name: &str) -> TenantControlPlane {
    TenantControlPlane {
        name: name.to_string(),
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

fn acme_prod() -> TenantControlPlane {
    TenantControlPlane {
        namespace: "tenant-acme".to_string(),
        uid: "3f6c1a9e-8b2d-4c7f-9e1a-5d8b7c6a4f21".to_string(),
        labels: key_values(&[
            ("cluster.x-k8s.io/cluster-name", "acme-prod"),
            ("environment", "production"),
            ("team", "payments"),
            ("tenant.clastix.io", "acme-prod"),
        ]),
        annotations: key_values(&[
            ("acme.example/contact", "payments-oncall@acme.example"),
            ("acme.example/cost-center", "cc-4711"),
        ]),
        owner_references: vec![OwnerReference {
            api_version: "controlplane.cluster.x-k8s.io/v1alpha1".to_string(),
            kind: "KamajiControlPlane".to_string(),
            name: "acme-prod".to_string(),
            uid: "9b2e4d71-0c3a-4e58-a6f1-2d7c9e8b5a34".to_string(),
        }],
        desired_version: some("v1.31.0"),
        service_type: some("LoadBalancer"),
        ingress: Some(IngressExposure {
            hostname: some("acme-prod.k8s.acme.example"),
            class_name: some("nginx"),
        }),
        network_address: some("203.0.113.10"),
        data_store: some("postgresql-gold"),
        ..bare_tcp("acme-prod")
    }
}

fn globex_staging(desired: &str, status: &str) -> TenantControlPlane {
    TenantControlPlane {
        namespace: "tenant-globex".to_string(),
        uid: "c81d2f4a-6e9b-4a3c-b5d7-0f1e2a3b4c5d".to_string(),
        labels: key_values(&[
            ("globex.example/owner", "hank.scorpio"),
            ("tenant.clastix.io", "globex-staging"),
        ]),
        desired_version: some(desired),
        installed_version: some("v1.30.2"),
        status: some(status),
        service_type: some("ClusterIP"),
        gateway: Some(GatewayExposure {
            hostname: some("globex-staging.tenants.example.net"),
        }),
        endpoint: some("10.96.14.201:6443"),
        data_store: some("default"),
        ..bare_tcp("globex-staging")
    }
}

fn initech_dev() -> TenantControlPlane {
    TenantControlPlane {
        namespace: "tenant-initech".to_string(),
        uid: "5a7b9c1d-3e5f-4a6b-8c9d-1e2f3a4b5c6d".to_string(),
        labels: key_values(&[("tenant.clastix.io", "initech-dev")]),
        annotations: key_values(&[("initech.example/ticket", "TPS-1999")]),
        desired_version: some("v1.29.4"),
        installed_version: some("v1.29.4"),
        status: some("NotReady"),
        service_type: some("NodePort"),
        network_address: some("10.20.30.40"),
        endpoint: some("10.20.30.40:6443"),
        data_store: some("mysql-silver"),
        ..bare_tcp("initech-dev")
    }
}

fn sample(name: &str) -> Vec<u8> {
    read(&manifest_dir().join("../samples").join(name))
}

#[test]
fn admission_create_gives_created_of_the_object() {
    assert_same(
        &only_event(&sample("admission-create.json")),
        &Event::Created(acme_prod()),
    );
}

#[test]
fn admission_update_gives_previous_and_current() {
    let expected = Event::Updated(TcpUpdate {
        previous: globex_staging("v1.30.2", "Ready"),
        current: globex_staging("v1.31.0", "Ready"),
    });
    assert_same(&only_event(&sample("admission-update.json")), &expected);
}

#[test]
fn admission_delete_gives_deleted_of_the_old_object() {
    assert_same(
        &only_event(&sample("admission-delete.json")),
        &Event::Deleted(initech_dev()),
    );
}

#[test]
fn kubectl_list_gives_one_heartbeat_over_the_fleet() {
    let documents = decode_all(&sample("fleet.json"));
    let [Ok(decoded)] = documents.as_slice() else {
        panic!("{documents:#?}");
    };
    assert_eq!(decoded.skipped_items, 0);
    let expected = Event::Heartbeat(Fleet {
        tenant_control_planes: vec![
            TenantControlPlane {
                installed_version: some("v1.31.0"),
                status: some("Ready"),
                endpoint: some("203.0.113.10:6443"),
                ..acme_prod()
            },
            globex_staging("v1.31.0", "Upgrading"),
            initech_dev(),
            TenantControlPlane {
                namespace: "tenant-hooli".to_string(),
                uid: "7d8e9f0a-1b2c-4d3e-9f4a-5b6c7d8e9f0a".to_string(),
                labels: key_values(&[("tenant.clastix.io", "hooli-ci")]),
                desired_version: some("v1.30.6"),
                installed_version: some("v1.30.6"),
                status: some("Sleeping"),
                service_type: some("LoadBalancer"),
                endpoint: some("198.51.100.23:6443"),
                data_store: some("nats-bronze"),
                ..bare_tcp("hooli-ci")
            },
            TenantControlPlane {
                namespace: "tenant-umbrella".to_string(),
                uid: "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b".to_string(),
                desired_version: some("v1.32.1"),
                status: some("Provisioning"),
                service_type: some("NodePort"),
                data_store: some("mysql-silver"),
                ..bare_tcp("umbrella-lab")
            },
            TenantControlPlane {
                namespace: "default".to_string(),
                uid: "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e".to_string(),
                desired_version: some("v1.31.0"),
                service_type: some("ClusterIP"),
                data_store: some("default"),
                ..bare_tcp("vandelay-qa")
            },
        ],
        data_stores: vec![
            data_store(
                "default",
                "etcd",
                &["default/vandelay-qa", "tenant-globex/globex-staging"],
            ),
            data_store(
                "mysql-silver",
                "MySQL",
                &["tenant-initech/initech-dev", "tenant-umbrella/umbrella-lab"],
            ),
            data_store("nats-bronze", "NATS", &["tenant-hooli/hooli-ci"]),
            data_store("postgresql-gold", "PostgreSQL", &["tenant-acme/acme-prod"]),
        ],
    });
    assert_same(&decoded.event, &expected);
}

fn data_store(name: &str, driver: &str, used_by: &[&str]) -> DataStore {
    DataStore {
        name: name.to_string(),
        driver: driver.to_string(),
        used_by: strings(used_by),
    }
}

fn heartbeat_of(data_store: DataStore) -> Event {
    Event::Heartbeat(Fleet {
        tenant_control_planes: Vec::new(),
        data_stores: vec![data_store],
    })
}

/// What each document of a Kamaji sample manifest gives: an event, or the kind
/// it is skipped as.
fn expected_from_kamaji_sample(file: &str) -> Vec<Result<Event, &'static str>> {
    let tcp = |name: &str, version: &str, service_type: Option<&str>| TenantControlPlane {
        labels: key_values(&[("tenant.clastix.io", name)]),
        desired_version: some(version),
        service_type: service_type.map(str::to_string),
        ..bare_tcp(name)
    };
    let load_balancer = Some("LoadBalancer");
    let data_store = |name: &str, driver: &str| Ok(heartbeat_of(data_store(name, driver, &[])));
    match file {
        "kamaji_v1alpa_tenantcontrolplane_dualstack.yaml"
        | "kamaji_v1alpha1_tenantcontrolplane.yaml" => {
            vec![Ok(Event::Created(tcp("k8s-133", "v1.35.7", load_balancer)))]
        }
        "kamaji_v1alpha1_tenantcontrolplane_additionalcontainers.yaml" => {
            vec![Ok(Event::Created(TenantControlPlane {
                data_store: some("postgresql-bronze"),
                ..tcp("additionalcontainers", "v1.26.0", load_balancer)
            }))]
        }
        "kamaji_v1alpha1_tenantcontrolplane_additionalvolumes.yaml" => vec![
            Ok(Event::Created(tcp(
                "additional-volumes",
                "v1.26.0",
                load_balancer,
            ))),
            Err("ConfigMap"),
            Err("ConfigMap"),
            Err("ConfigMap"),
        ],
        "kamaji_v1alpha1_tenantcontrolplane_gateway.yaml" => {
            vec![Ok(Event::Created(TenantControlPlane {
                desired_version: some("v1.35.7"),
                service_type: some("ClusterIP"),
                gateway: Some(GatewayExposure {
                    hostname: some("c11.cluster.dev"),
                }),
                data_store: some("default"),
                ..bare_tcp("demo-tcp-1")
            }))]
        }
        "kamaji_v1alpha1_tenantcontrolplane_kine.yaml" => {
            vec![Ok(Event::Created(TenantControlPlane {
                data_store: some("postgresql-bronze"),
                ..tcp("kine", "v1.26.0", load_balancer)
            }))]
        }
        // This sample puts `service` under `spec`, not `spec.controlPlane`: it
        // has no service type.
        "kamaji_v1alpha1_tenantcontrolplane_konnectivity.yaml" => {
            vec![Ok(Event::Created(tcp(
                "konnectivity-addon",
                "v1.26.0",
                None,
            )))]
        }
        "kamaji_v1alpha1_tenantcontrolplane_konnectivity_hostnetwork.yaml" => {
            vec![Ok(Event::Created(TenantControlPlane {
                namespace: "tenant-system".to_string(),
                desired_version: some("v1.29.0"),
                service_type: some("LoadBalancer"),
                network_address: some("10.0.0.100"),
                ..bare_tcp("example-hostnetwork-tcp")
            }))]
        }
        "kamaji_v1alpha1_kubeconfiggenerator.yaml" => vec![Err("KubeconfigGenerator")],
        "kamaji_v1alpha1_datastore_etcd.yaml" => vec![data_store("etcd", "etcd")],
        "kamaji_v1alpha1_datastore_mysql_bronze.yaml" => vec![data_store("mysql-bronze", "MySQL")],
        "kamaji_v1alpha1_datastore_mysql_gold.yaml" => vec![data_store("mysql-gold", "MySQL")],
        "kamaji_v1alpha1_datastore_mysql_silver.yaml" => vec![data_store("mysql-silver", "MySQL")],
        "kamaji_v1alpha1_datastore_nats_bronze.yaml" => vec![data_store("nats-bronze", "NATS")],
        "kamaji_v1alpha1_datastore_nats_gold.yaml" => vec![data_store("nats-gold", "NATS")],
        "kamaji_v1alpha1_datastore_nats_notls.yaml" => vec![data_store("nats-notls", "NATS")],
        "kamaji_v1alpha1_datastore_nats_silver.yaml" => vec![data_store("nats-silver", "NATS")],
        "kamaji_v1alpha1_datastore_postgresql_bronze.yaml" => {
            vec![data_store("postgresql-bronze", "PostgreSQL")]
        }
        "kamaji_v1alpha1_datastore_postgresql_gold.yaml" => {
            vec![data_store("postgresql-gold", "PostgreSQL")]
        }
        "kamaji_v1alpha1_datastore_postgresql_silver.yaml" => {
            vec![data_store("postgresql-silver", "PostgreSQL")]
        }
        other => panic!("Kamaji sample {other} is new: add what it should decode to"),
    }
}

#[test]
fn kamaji_sample_manifests_decode_field_by_field() {
    let mut files: Vec<PathBuf> = fs::read_dir(kamaji_samples())
        .expect("the samples folder is readable")
        .map(|entry| entry.expect("a readable folder entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} Kamaji samples", files.len());
    for path in files {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a UTF-8 name");
        let actual = decode_all(&read(&path));
        let expected = expected_from_kamaji_sample(name);
        assert_eq!(actual.len(), expected.len(), "{name}: {actual:#?}");
        for (index, (actual, expected)) in actual.iter().zip(&expected).enumerate() {
            let document = index + 1;
            match (actual, expected) {
                (Ok(decoded), Ok(event)) => {
                    assert_eq!(decoded.document, document, "{name}");
                    assert_same(&decoded.event, event);
                }
                (Err(error), Err(kind)) => {
                    assert_eq!(error.document, document, "{name}");
                    assert!(error.is_skip(), "{name}: {error}");
                    assert!(
                        matches!(&error.cause, DecodeErrorKind::UnsupportedKind { kind: k, .. } if k == kind),
                        "{name}: {error}"
                    );
                }
                _ => panic!("{name}, document {document}: {actual:?}, expected {expected:?}"),
            }
        }
    }
}

#[test]
fn kamaji_samples_concatenated_into_one_yaml_stream_keep_their_order() {
    let dir = kamaji_samples();
    let names = [
        "kamaji_v1alpha1_datastore_etcd.yaml",
        "kamaji_v1alpha1_tenantcontrolplane_gateway.yaml",
        "kamaji_v1alpha1_tenantcontrolplane_additionalvolumes.yaml",
    ];
    let mut stream = Vec::new();
    for name in names {
        stream.extend_from_slice(b"---\n");
        stream.extend(read(&dir.join(name)));
    }
    let decoded = decode_all(&stream);
    let outcomes: Vec<String> = decoded
        .iter()
        .map(|result| match result {
            Ok(document) => format!("{} ok", document.document),
            Err(error) => format!("{} skipped", error.document),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "1 ok",
            "2 ok",
            "3 ok",
            "4 skipped",
            "5 skipped",
            "6 skipped"
        ]
    );
}

#[test]
fn the_webhook_gets_the_uid_and_event_of_a_sample() {
    let admission =
        decode_admission_review(&sample("admission-update.json")).expect("an AdmissionReview");
    assert_eq!(admission.uid, "2c9f1e7a-4b6d-4e8f-a1c3-5d7e9f0b2a4c");
    assert!(matches!(admission.event, Ok(Event::Updated(_))));
}
