//! Decoding real Kubernetes output: this repository's samples (AdmissionReviews
//! and a `kubectl get -o json` List) and Kamaji's own sample manifests.

use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};

use kamaji_telemetry_core::kube::{
    DecodeError, DecodeErrorKind, DecodedDocument, Limits, Position, decode_admission_review,
    decode_reader, decode_stream,
};
use kamaji_telemetry_core::model::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, KeyValue, OwnerReference, TcpUpdate,
    TenantControlPlane,
};

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

fn decode_all(bytes: &[u8]) -> Vec<Result<DecodedDocument, DecodeError>> {
    decode_stream(bytes).collect()
}

/// The one event of a stream that must hold exactly one good document.
fn only_event(bytes: &[u8]) -> Event {
    let mut documents = decode_all(bytes);
    assert_eq!(documents.len(), 1, "{documents:#?}");
    match documents.remove(0) {
        Ok(decoded) => decoded.event,
        Err(error) => panic!("{error}"),
    }
}

/// The contract's types have no `PartialEq`; their `Debug` shows every field.
fn assert_same<T: Debug>(actual: &T, expected: &T) {
    assert_eq!(format!("{actual:#?}"), format!("{expected:#?}"));
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

fn key_values(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        })
        .collect()
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

/// A compact AdmissionReview for a TCP, one line.
fn review(operation: &str, object: &str, old_object: &str) -> String {
    format!(
        r#"{{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{{"uid":"uid-{operation}","kind":{{"group":"kamaji.clastix.io","version":"v1alpha1","kind":"TenantControlPlane"}},"operation":"{operation}","object":{object},"oldObject":{old_object}}}}}"#
    )
}

const TCP: &str = r#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"one","namespace":"ns"}}"#;

fn names(event: &Event) -> Vec<&str> {
    match event {
        Event::Created(tcp) | Event::Deleted(tcp) => vec![tcp.name.as_str()],
        Event::Updated(update) => vec![update.previous.name.as_str(), update.current.name.as_str()],
        Event::Heartbeat(fleet) => fleet
            .tenant_control_planes
            .iter()
            .map(|tcp| tcp.name.as_str())
            .chain(fleet.data_stores.iter().map(|ds| ds.name.as_str()))
            .collect(),
    }
}

#[test]
fn bad_json_documents_are_reported_with_positions_and_the_rest_is_decoded() {
    let stream = [
        // 1: good, line 1.
        review("CREATE", TCP, "null"),
        // 2: a colon missing before "List"; its brackets balance.
        r#"{"apiVersion": "v1", "kind" "List", "items": []}"#.to_string(),
        // 3: good.
        review("DELETE", "null", TCP),
        // 4: labels of the wrong type, line 4.
        r#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"x","labels":"oops"}}"#.to_string(),
        // 5: a string missing its closing quote, so its brackets never balance.
        r#"{"apiVersion": "v1", "kind": "List, "items": [}"#.to_string(),
        // 6: good, two documents on one line.
        format!("{TCP} {TCP}"),
    ]
    .join("\n");
    let documents = decode_all(stream.as_bytes());
    let summary: Vec<String> = documents
        .iter()
        .map(|result| match result {
            Ok(decoded) => format!("{}: {:?}", decoded.document, names(&decoded.event)),
            Err(error) => format!("{}: error at {}", error.document, error.position),
        })
        .collect();
    assert_eq!(
        summary,
        [
            r#"1: ["one"]"#,
            "2: error at line 2, column 29",
            r#"3: ["one"]"#,
            "4: error at line 4, column 109",
            "5: error at line 5, column 38",
            r#"6: ["one"]"#,
            r#"7: ["one"]"#,
        ]
    );
    let Err(error) = &documents[1] else {
        unreachable!()
    };
    assert_eq!(
        error.to_string(),
        "document 2 (line 2, column 29): invalid JSON: expected `:`"
    );
    assert!(!error.is_skip());
    let Err(error) = &documents[3] else {
        unreachable!()
    };
    assert!(
        error
            .to_string()
            .contains("invalid type: string \"oops\", expected a map"),
        "{error}"
    );
}

#[test]
fn a_truncated_last_json_document_is_an_error_at_its_end() {
    let stream = format!("{TCP}\n\n{{\"kind\": \"List\",\n \"items\": [");
    let documents = decode_all(stream.as_bytes());
    assert_eq!(documents.len(), 2);
    assert!(documents[0].is_ok());
    let Err(error) = &documents[1] else {
        panic!("{documents:?}")
    };
    assert_eq!(error.document, 2);
    assert_eq!(
        error.position,
        Position {
            line: 4,
            column: 11
        }
    );
    assert!(error.to_string().contains("EOF while parsing"), "{error}");
}

#[test]
fn bad_yaml_documents_are_reported_with_positions_and_the_rest_is_decoded() {
    let stream = "\
# a leading comment and separator are no document
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: first
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: broken
 labels: {}
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: third
  labels: [not, a, map]
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: fourth
spec:
  driver: etcd
---
";
    let documents = decode_all(stream.as_bytes());
    assert_eq!(documents.len(), 4, "{documents:#?}");
    assert_eq!(
        names(&documents[0].as_ref().expect("first").event),
        ["first"]
    );
    let Err(broken) = &documents[1] else {
        panic!("{documents:?}")
    };
    assert_eq!((broken.document, broken.position.line), (2, 12));
    assert!(matches!(broken.cause, DecodeErrorKind::Yaml(_)), "{broken}");
    assert!(!broken.to_string().contains(" at line "), "{broken}");
    let Err(third) = &documents[2] else {
        panic!("{documents:?}")
    };
    // serde-saphyr names no field path, but points at the value: column 11
    // of `  labels: [not, a, map]`.
    assert_eq!(
        (third.document, third.position.line, third.position.column),
        (3, 18, 11)
    );
    assert!(third.to_string().contains("mapping"), "{third}");
    assert_eq!(
        names(&documents[3].as_ref().expect("fourth").event),
        ["fourth"]
    );
}

#[test]
fn lists_skip_and_count_other_kinds() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
        {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStore", "metadata": {"name": "ds"}, "spec": {"driver": "etcd"}},
        {"apiVersion": "example.com/v1", "kind": "TenantControlPlane", "metadata": {"name": "not-kamaji"}},
        {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane", "metadata": {"name": "tcp"}}
    ]}"#;
    let documents = decode_all(list.as_bytes());
    let [Ok(decoded)] = documents.as_slice() else {
        panic!("{documents:#?}")
    };
    assert_eq!(decoded.skipped_items, 2);
    assert_eq!(names(&decoded.event), ["tcp", "ds"]);
}

#[test]
fn typed_lists_and_bare_arrays_give_heartbeats() {
    // The API server leaves the kind out of a typed list's items.
    let typed = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlaneList",
        "metadata": {"resourceVersion": "1"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}
        {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStoreList", "items": [{"metadata": {"name": "ds"}}]}"#;
    let documents = decode_all(typed.as_bytes());
    let heartbeats: Vec<Vec<&str>> = documents
        .iter()
        .map(|result| names(&result.as_ref().expect("a heartbeat").event))
        .collect();
    assert_eq!(heartbeats, [vec!["a", "b"], vec!["ds"]]);

    let array = format!("[{TCP}, {TCP}]");
    let Event::Heartbeat(fleet) = only_event(array.as_bytes()) else {
        panic!("a bare array is a heartbeat")
    };
    assert_eq!(fleet.tenant_control_planes.len(), 2);

    let empty = r#"{"apiVersion": "v1", "kind": "List", "items": []}"#;
    let Event::Heartbeat(fleet) = only_event(empty.as_bytes()) else {
        panic!("an empty list is an empty heartbeat")
    };
    assert!(fleet.tenant_control_planes.is_empty() && fleet.data_stores.is_empty());
}

#[test]
fn admissions_that_give_no_event_say_why_and_keep_their_uid() {
    let connect = review("CONNECT", TCP, "null");
    let pod = review("CREATE", TCP, "null").replace(
        r#""group":"kamaji.clastix.io","version":"v1alpha1","kind":"TenantControlPlane""#,
        r#""group":"","version":"v1","kind":"Pod""#,
    );
    let delete_without_old = review("DELETE", "null", "null");
    let cases = [
        (connect, "uid-CONNECT", true, "operation \"CONNECT\""),
        (
            pod,
            "uid-CREATE",
            true,
            "not a TenantControlPlane admission",
        ),
        (
            delete_without_old,
            "uid-DELETE",
            false,
            "request.oldObject is missing",
        ),
    ];
    let pod_as_tcp = review(
        "CREATE",
        &TCP.replace("kamaji.clastix.io/v1alpha1", "v1")
            .replace("TenantControlPlane", "Pod"),
        "null",
    );
    let cases = cases.into_iter().chain([(
        pod_as_tcp,
        "uid-CREATE",
        true,
        r#"request.object is kind "Pod" of apiVersion "v1", not the TenantControlPlane"#,
    )]);
    for (body, uid, skip, reason) in cases {
        let admission = decode_admission_review(body.as_bytes()).expect("an AdmissionReview");
        assert_eq!(admission.uid, uid);
        let cause = admission.event.expect_err("no event");
        assert_eq!(cause.is_skip(), skip, "{cause}");
        assert!(cause.to_string().contains(reason), "{cause}");

        let documents = decode_all(body.as_bytes());
        let [Err(error)] = documents.as_slice() else {
            panic!("the stream gives the same error: {documents:?}")
        };
        assert_eq!(
            error.to_string(),
            format!("document 1 (line 1, column 1): {cause}")
        );
    }
}

#[test]
fn the_webhook_gets_the_uid_and_event_of_a_sample() {
    let admission =
        decode_admission_review(&sample("admission-update.json")).expect("an AdmissionReview");
    assert_eq!(admission.uid, "2c9f1e7a-4b6d-4e8f-a1c3-5d7e9f0b2a4c");
    assert!(matches!(admission.event, Ok(Event::Updated(_))));
}

#[test]
fn the_webhook_rejects_what_is_not_one_admission_review() {
    let not_json = decode_admission_review(b"{\"kind\": ").expect_err("not JSON");
    assert_eq!(not_json.position, Position { line: 1, column: 9 });
    let two = format!(
        "{} {}",
        review("CREATE", TCP, "null"),
        review("CREATE", TCP, "null")
    );
    let trailing = decode_admission_review(two.as_bytes()).expect_err("two documents");
    assert!(
        trailing.to_string().contains("trailing characters"),
        "{trailing}"
    );
    let list = decode_admission_review(br#"{"apiVersion": "v1", "kind": "List"}"#)
        .expect_err("not an AdmissionReview");
    assert!(list.is_skip(), "{list}");
}

#[test]
fn streams_without_documents_give_nothing() {
    for empty in ["", "  \n\t", "---\n# nothing\n---\n"] {
        assert_eq!(decode_all(empty.as_bytes()).len(), 0, "{empty:?}");
    }
}

#[test]
fn escaped_and_unicode_strings_decode() {
    let tcp = r#"{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{"name":"t\u00e9st","annotations":{"note":"say \"hi\"\n"}}}"#;
    let Event::Created(tcp) = only_event(tcp.as_bytes()) else {
        panic!("a TCP is created")
    };
    assert_eq!(tcp.name, "tést");
    assert_same(&tcp.annotations, &key_values(&[("note", "say \"hi\"\n")]));
}

const YAML_TCP: &str =
    "apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: yaml\n";

fn json_tcp(name: &str) -> String {
    TCP.replace(r#""name":"one""#, &format!(r#""name":"{name}""#))
}

/// The name of each document's TCP, or its error.
fn outcomes(bytes: &[u8]) -> Vec<Result<String, String>> {
    decode_all(bytes)
        .into_iter()
        .map(|document| match document {
            Ok(decoded) => Ok(names(&decoded.event).join(",")),
            Err(error) => Err(error.to_string()),
        })
        .collect()
}

#[test]
fn a_byte_order_mark_is_skipped_where_a_document_starts() {
    let bom = "\u{feff}";
    let yaml = format!("{bom}{YAML_TCP}---\n{bom}{YAML_TCP}");
    assert_eq!(
        outcomes(yaml.as_bytes()),
        [Ok("yaml".into()), Ok("yaml".into())]
    );
    let json = format!("{bom}{}\n{bom}{}", json_tcp("a"), json_tcp("b"));
    assert_eq!(outcomes(json.as_bytes()), [Ok("a".into()), Ok("b".into())]);
}

#[test]
fn a_separator_switches_between_json_and_yaml() {
    let stream = format!(
        "{}\n---\n{YAML_TCP}---\n{}\n{}\n",
        json_tcp("first"),
        json_tcp("third"),
        json_tcp("fourth")
    );
    assert_eq!(
        outcomes(stream.as_bytes()),
        [
            Ok("first".into()),
            Ok("yaml".into()),
            Ok("third".into()),
            Ok("fourth".into())
        ]
    );
    // YAML first, then JSON without a separator: the JSON line ends the YAML.
    let stream = format!("{YAML_TCP}{}\n", json_tcp("after"));
    assert_eq!(
        outcomes(stream.as_bytes()),
        [Ok("yaml".into()), Ok("after".into())]
    );
}

#[test]
fn yaml_directives_and_the_document_end_marker_are_accepted() {
    let stream = format!(
        "%YAML 1.1\n---\n{YAML_TCP}...\n%YAML 1.2\n%TAG !k! tag:kamaji.clastix.io,2024:\n--- !k!tcp\n{YAML_TCP}"
    );
    assert_eq!(
        outcomes(stream.as_bytes()),
        [Ok("yaml".into()), Ok("yaml".into())]
    );
}

#[test]
fn a_bad_first_document_never_swallows_the_next_ones() {
    for bad in ["1e999", "not: [closed", "\"unterminated"] {
        let stream = format!("{bad}\n{}\n---\n{YAML_TCP}", json_tcp("json"));
        let outcome = outcomes(stream.as_bytes());
        assert_eq!(outcome.len(), 3, "{bad}: {outcome:?}");
        assert!(outcome[0].is_err(), "{bad}: {outcome:?}");
        assert_eq!(
            outcome[1..],
            [Ok("json".into()), Ok("yaml".into())],
            "{bad}"
        );
    }
}

#[test]
fn a_nul_byte_ends_the_stream_with_a_reason() {
    let stream = format!("{}\n\0\0\0{}", json_tcp("before"), json_tcp("after"));
    let documents = decode_all(stream.as_bytes());
    assert!(documents[0].is_ok(), "{documents:?}");
    let [_, Err(error)] = documents.as_slice() else {
        panic!("the stream ends at the NUL: {documents:?}")
    };
    assert!(matches!(error.cause, DecodeErrorKind::NotText), "{error}");
    assert_eq!(error.position, Position { line: 2, column: 1 });
    // UTF-16 is the usual culprit: a BOM, then a NUL after every ASCII byte.
    let utf16: Vec<u8> = "\u{feff}kind: List\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let documents = decode_all(&utf16);
    assert!(
        matches!(
            documents.as_slice(),
            [Err(DecodeError {
                cause: DecodeErrorKind::NotText,
                ..
            })]
        ),
        "{documents:?}"
    );
}

/// Input that arrives in parts, as from a pipe: a read past what has
/// arrived finds the end of the input, so a decoder that waits for more
/// than one document before handing it on loses it.
struct Arrivals(std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u8>>>);

impl std::io::Read for Arrivals {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let mut arrived = self.0.borrow_mut();
        let count = buffer.len().min(arrived.len());
        for (slot, byte) in buffer.iter_mut().zip(arrived.drain(..count)) {
            *slot = byte;
        }
        Ok(count)
    }
}

#[test]
fn each_document_is_decoded_as_soon_as_it_is_complete() {
    let pipe = std::rc::Rc::default();
    let input = std::io::BufReader::new(Arrivals(std::rc::Rc::clone(&pipe)));
    let mut documents = decode_reader(input, Limits::default());
    let arrive = |text: &str| pipe.borrow_mut().extend(text.as_bytes());
    for name in ["first", "second", "third"] {
        arrive(&format!("{}\n", json_tcp(name)));
        let decoded = documents.next().expect("the document that arrived");
        assert_eq!(names(&decoded.expect("a TCP").event), [name]);
    }
    assert!(documents.next().is_none());
}
