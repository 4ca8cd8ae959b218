//! What serve's store holds per TenantControlPlane: its record withheld to
//! what the default plugin reads, with its key, UID and resourceVersion. A
//! counting allocator gives the exact bytes; the bound is the one the
//! README states (1 KiB per TCP), so a regression fails `make test`. Its own
//! test binary, for its global allocator.

use kamaji_telemetry::cluster::store::{Objects, Stored};
use kamaji_telemetry::kube::record;
use kamaji_telemetry::model::TenantControlPlane;
use kamaji_telemetry::plugin::{DEFAULT_PLUGIN, PluginRuntime, SandboxLimits};
use kamaji_telemetry_counting_alloc::{self as counting, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TCPS: usize = 10_000;
/// README.md, "Running as an agent": 1 KiB at most per TCP (about 650 bytes
/// today, printed by this test).
const BOUND_PER_TCP: usize = 1024;

#[test]
fn the_store_holds_at_most_a_kibibyte_per_tenant_control_plane() {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("a runtime");
    let reads = runtime
        .load(DEFAULT_PLUGIN)
        .expect("the default plugin loads")
        .description()
        .reads;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/kamaji/tenantcontrolplane.json"
    );
    let mut object: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the sample")).expect("JSON");
    object["status"] = serde_json::json!({"kubernetesResources": {"version": {
        "version": "v1.30.2", "status": "Ready"}}});

    let before = counting::now();
    let mut objects: Objects<TenantControlPlane> = Objects::default();
    objects.list_started();
    for index in 0..TCPS {
        let name = format!("tenant-control-plane-{index:05}");
        object["metadata"]["name"] = serde_json::json!(name);
        let mut tcp = record::tenant_control_plane(&object).expect("a TenantControlPlane");
        tcp.withhold(reads);
        let stored = Stored {
            uid: format!("00000000-0000-4000-a000-{index:012}").into(),
            version: format!("{}", 100_000 + index).into(),
            record: tcp,
        };
        objects.listed(("tenant-namespace".to_owned(), name), stored);
    }
    objects.list_done(reads);
    let held = counting::now() - before;
    let per_tcp = held / TCPS;
    eprintln!("the store holds {per_tcp} bytes per TCP ({held} bytes for {TCPS})");
    assert!(per_tcp <= BOUND_PER_TCP, "{per_tcp} bytes per TCP");
    assert!(per_tcp > 0, "nothing counted: the allocator is not in use");
    assert_eq!(objects.records().len(), TCPS);
}
