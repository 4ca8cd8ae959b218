//! The inputs, generated: Kubernetes objects shaped and sized like the API
//! server's (labels, annotations, owner references, addresses, statuses), from
//! a fixed seed, so that every run and every machine measures the same bytes.

use serde_json::{Value, json};

use kamaji_telemetry::kube;
use kamaji_telemetry::model::{Event, Installation};

/// The installation every measurement uses, in process and on the command line.
pub const CLUSTER_UID: &str = "6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3";
pub const KAMAJI_VERSION: &str = "v1.0.0";
pub const KUBERNETES_VERSION: &str = "v1.30.2-eks-5e0fdde";

pub fn installation() -> Installation {
    Installation {
        cluster_uid: CLUSTER_UID.into(),
        kamaji_version: KAMAJI_VERSION.into(),
        kubernetes_version: KUBERNETES_VERSION.into(),
    }
}

/// SplitMix64: tiny, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant for inputs.
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn address(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.below(256),
            self.below(256),
            1 + self.below(254)
        )
    }
}

const TEAMS: &[&str] = &[
    "payments", "search", "checkout", "identity", "platform", "data", "edge", "ml",
];
const ENVIRONMENTS: &[&str] = &["prod", "staging", "dev", "qa"];
const CUSTOMERS: &[&str] = &[
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
];
const VERSIONS: &[&str] = &["v1.29.9", "v1.30.5", "v1.31.2", "v1.32.0", "v1.33.1"];
const SERVICE_TYPES: &[&str] = &["LoadBalancer", "ClusterIP", "NodePort"];
const DRIVERS: &[&str] = &["etcd", "PostgreSQL", "MySQL", "NATS"];

/// Kamaji's statuses, most TCPs ready as in a healthy fleet.
fn status(rng: &mut Rng) -> &'static str {
    match rng.below(100) {
        0..85 => "Ready",
        85..89 => "Upgrading",
        89..93 => "NotReady",
        93..96 => "Sleeping",
        _ => "Provisioning",
    }
}

/// Identity and spec of one generated TenantControlPlane.
struct Tcp {
    name: String,
    namespace: String,
    version: &'static str,
    data_store: String,
}

impl Tcp {
    fn new(rng: &mut Rng, index: usize, data_store: String) -> Self {
        let customer = rng.pick(CUSTOMERS);
        Self {
            name: format!("{}-{}-{index}", rng.pick(TEAMS), rng.pick(ENVIRONMENTS)),
            namespace: format!("tenant-{customer}"),
            version: rng.pick(VERSIONS),
            data_store,
        }
    }

    /// The object as the API server returns it, with `status` when it has one.
    fn object(&self, rng: &mut Rng, status: Option<&str>) -> Value {
        let mut object = json!({
            "apiVersion": "kamaji.clastix.io/v1alpha1",
            "kind": "TenantControlPlane",
            "metadata": self.metadata(rng),
            "spec": self.spec(rng),
        });
        if let Some(status) = status {
            object["status"] = json!({
                "controlPlaneEndpoint": format!("{}:6443", rng.address()),
                "kubernetesResources": {"version": {"version": self.version, "status": status}},
                "storage": {"dataStoreName": self.data_store, "driver": rng.pick(DRIVERS)},
            });
        }
        object
    }

    fn metadata(&self, rng: &mut Rng) -> Value {
        let team = self.name.split('-').next().unwrap_or_default();
        let mut metadata = json!({
            "creationTimestamp": format!("2025-0{}-1{}T09:12:47Z", 1 + rng.below(9), rng.below(10)),
            "generation": 1 + rng.below(20),
            "labels": {"tenant.clastix.io": self.name, "team": team, "environment": rng.pick(ENVIRONMENTS)},
            "name": self.name,
            "namespace": self.namespace,
            "resourceVersion": (40_000_000 + rng.below(10_000_000)).to_string(),
            "uid": rng.uuid(),
        });
        if rng.chance(60) {
            metadata["annotations"] = json!({
                "acme.example/contact": format!("{team}-oncall@{}.example", &self.namespace[7..]),
                "acme.example/cost-center": format!("cc-{}", 1000 + rng.below(9000)),
            });
        }
        if rng.chance(30) {
            metadata["ownerReferences"] = json!([{
                "apiVersion": "controlplane.cluster.x-k8s.io/v1alpha1",
                "blockOwnerDeletion": true,
                "controller": true,
                "kind": "KamajiControlPlane",
                "name": self.name,
                "uid": rng.uuid(),
            }]);
        }
        metadata
    }

    fn spec(&self, rng: &mut Rng) -> Value {
        let mut control_plane = json!({
            "deployment": {"replicas": 2 + rng.below(2), "serviceAccountName": "default"},
            "service": {"serviceType": rng.pick(SERVICE_TYPES)},
        });
        if rng.chance(20) {
            control_plane["ingress"] = json!({
                "hostname": format!("{}.k8s.{}.example", self.name, &self.namespace[7..]),
                "ingressClassName": "nginx",
            });
        }
        json!({
            "controlPlane": control_plane,
            "dataStore": self.data_store,
            "kubernetes": {"version": self.version, "kubelet": {"cgroupfs": "systemd"}},
            "networkProfile": {"address": rng.address(), "port": 6443},
            "addons": {"coreDNS": {}, "kubeProxy": {}},
        })
    }
}

/// What an admission webhook is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// One AdmissionReview, as the API server posts it to a webhook: the new
/// object on CREATE, both on UPDATE (half of them change the version), the old
/// one on DELETE.
pub fn admission_review(rng: &mut Rng, index: usize, operation: Operation) -> Value {
    let data_store = format!("{}-gold", rng.pick(DRIVERS).to_lowercase());
    let tcp = Tcp::new(rng, index, data_store);
    let (object, old_object, name) = match operation {
        Operation::Create => (tcp.object(rng, None), Value::Null, "CREATE"),
        Operation::Update => {
            let status = status(rng);
            let old = tcp.object(rng, Some(status));
            let mut new = old.clone();
            if rng.chance(50) {
                new["spec"]["kubernetes"]["version"] = json!(rng.pick(VERSIONS));
            }
            (new, old, "UPDATE")
        }
        Operation::Delete => {
            let status = status(rng);
            (Value::Null, tcp.object(rng, Some(status)), "DELETE")
        }
    };
    let gvk =
        json!({"group": "kamaji.clastix.io", "version": "v1alpha1", "kind": "TenantControlPlane"});
    let gvr = json!({"group": "kamaji.clastix.io", "version": "v1alpha1", "resource": "tenantcontrolplanes"});
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": rng.uuid(),
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": tcp.name,
            "namespace": tcp.namespace,
            "operation": name,
            "userInfo": {
                "username": "system:serviceaccount:kamaji-system:capi-kamaji-controller-manager",
                "uid": rng.uuid(),
                "groups": ["system:serviceaccounts", "system:serviceaccounts:kamaji-system", "system:authenticated"],
            },
            "object": object,
            "oldObject": old_object,
            "dryRun": false,
        },
    })
}

/// `count` AdmissionReviews, one compact document per line, with the
/// operations in the given proportions (cycled).
pub fn admission_stream(count: usize, operations: &[Operation]) -> Vec<u8> {
    let mut rng = Rng::new(0x6b61_6d61_6a69);
    let mut out = Vec::new();
    for index in 0..count {
        let operation = operations[index % operations.len()];
        append_json(&mut out, &admission_review(&mut rng, index, operation));
        out.push(b'\n');
    }
    out
}

/// Half creations, three tenths updates and a fifth deletions.
pub const MIXED: &[Operation] = &[
    Operation::Create,
    Operation::Update,
    Operation::Create,
    Operation::Delete,
    Operation::Create,
    Operation::Update,
    Operation::Create,
    Operation::Delete,
    Operation::Create,
    Operation::Update,
];

/// `kubectl get tenantcontrolplanes,datastores -A -o json` over a fleet of
/// `tcps` TCPs spread over DataStores of every driver, each DataStore's
/// `usedBy` naming its TCPs. Compact, and written object by object, so that
/// a 100 MB list never exists as one JSON tree.
pub fn fleet_list(tcps: usize) -> Vec<u8> {
    let mut rng = Rng::new(0x0066_6c65_6574);
    let stores = data_store_names(tcps);
    let mut used_by = vec![Vec::new(); stores.len()];
    let mut out =
        br#"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":["#.to_vec();
    for index in 0..tcps {
        let store = rng.below(stores.len());
        let tcp = Tcp::new(&mut rng, index, stores[store].clone());
        used_by[store].push(format!("{}/{}", tcp.namespace, tcp.name));
        if index > 0 {
            out.push(b',');
        }
        let status = status(&mut rng);
        append_json(&mut out, &tcp.object(&mut rng, Some(status)));
    }
    for (i, (name, users)) in stores.iter().zip(used_by).enumerate() {
        if tcps > 0 || i > 0 {
            out.push(b',');
        }
        append_json(
            &mut out,
            &data_store(&mut rng, name, DRIVERS[i % DRIVERS.len()], users),
        );
    }
    out.extend_from_slice(b"]}");
    out
}

/// About one DataStore per 2,500 TCPs, and at least one of each driver.
fn data_store_names(tcps: usize) -> Vec<String> {
    let count = (tcps / 2_500).clamp(DRIVERS.len(), 64);
    (0..count)
        .map(|i| format!("{}-{i}", DRIVERS[i % DRIVERS.len()].to_lowercase()))
        .collect()
}

fn data_store(rng: &mut Rng, name: &str, driver: &str, used_by: Vec<String>) -> Value {
    json!({
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "DataStore",
        "metadata": {"name": name, "uid": rng.uuid(), "resourceVersion": rng.below(1_000_000).to_string()},
        "spec": {"driver": driver, "endpoints": [format!("{name}.kamaji-system.svc:2379")]},
        "status": {"usedBy": used_by},
    })
}

fn append_json(out: &mut Vec<u8>, value: &Value) {
    serde_json::to_writer(out, value).expect("a JSON value serialises into memory");
}

/// The events of a stream, decoded by the host's own decoder, so that the
/// plugin gets in process exactly what it gets from the command line.
pub fn decode_events(stream: &[u8]) -> Vec<Event> {
    kube::decode_stream(stream)
        .map(|document| document.expect("generated documents decode").event)
        .collect()
}

/// One event of the given kind; panics if the stream gives another.
pub fn single_event(stream: &[u8]) -> Event {
    let mut events = decode_events(stream);
    assert_eq!(events.len(), 1, "one document, one event");
    events.remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        assert_eq!(admission_stream(20, MIXED), admission_stream(20, MIXED));
        assert_eq!(fleet_list(50), fleet_list(50));
    }

    #[test]
    fn admissions_decode_into_their_events() {
        let events = decode_events(&admission_stream(10, MIXED));
        let creations = events
            .iter()
            .filter(|e| matches!(e, Event::Created(_)))
            .count();
        let updates = events
            .iter()
            .filter(|e| matches!(e, Event::Updated(_)))
            .count();
        let deletions = events
            .iter()
            .filter(|e| matches!(e, Event::Deleted(_)))
            .count();
        assert_eq!((creations, updates, deletions), (5, 3, 2));
    }

    #[test]
    fn a_list_is_one_heartbeat_over_every_object() {
        let Event::Heartbeat(fleet) = single_event(&fleet_list(300)) else {
            panic!("a list is a heartbeat");
        };
        assert_eq!(fleet.tenant_control_planes.len(), 300);
        assert_eq!(fleet.data_stores.len(), DRIVERS.len());
        let users: usize = fleet.data_stores.iter().map(|d| d.used_by.len()).sum();
        assert_eq!(users, 300);
        assert!(
            fleet
                .tenant_control_planes
                .iter()
                .all(|t| t.status.is_some())
        );
    }

    #[test]
    fn objects_have_the_size_of_real_ones() {
        // About 1 KB a TCP, so that 100k TCPs make the ~100 MB list of the issue.
        let per_tcp = fleet_list(1_000).len() / 1_000;
        assert!((800..1_400).contains(&per_tcp), "{per_tcp} bytes a TCP");
    }

    #[test]
    fn uuids_are_well_formed() {
        let uuid = Rng::new(1).uuid();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
    }
}
