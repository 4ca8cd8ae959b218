//! Old plugins keep loading: the default plugin as it was built for contract
//! 0.1.0 (a frozen build, `tests/fixtures/plugins`) and today's default, built
//! for 0.2.0, in one process, give the same bodies for every input. And a
//! 0.2.0 plugin is handed only the input groups it declares, as read off
//! its own memory by a plugin that echoes it (`echo_plugin`).

use std::path::{Path, PathBuf};

use crate::common::{created, installation};
use kamaji_telemetry::kube;
use kamaji_telemetry::model::{
    DataStore, Event, Fleet, GatewayExposure, IngressExposure, InputFields, Installation, KeyValue,
    OwnerReference, Payload, TcpUpdate, TenantControlPlane,
};
use kamaji_telemetry::pipeline;
use kamaji_telemetry::plugin::{
    ContractVersion, DEFAULT_PLUGIN, Outcome, Plugin, PluginRuntime, SandboxLimits,
};
use sha2::{Digest, Sha256};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugins() -> (Plugin, Plugin) {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("an engine");
    let old_build = std::fs::read(
        repository().join("tests/fixtures/plugins/kamaji-telemetry-plugin-0.1.0.wasm"),
    )
    .expect("the frozen 0.1.0 build");
    let old = runtime.load(&old_build).expect("the 0.1.0 build loads");
    let new = runtime.load(DEFAULT_PLUGIN).expect("the default loads");
    (old, new)
}

/// Every event of every sample and Kamaji manifest in the repository.
fn sample_events() -> Vec<(String, Event)> {
    let directories = [
        "samples",
        "tests/fixtures/kamaji/samples",
        "tests/fixtures/kamaji",
    ];
    let mut events = Vec::new();
    for directory in directories {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join(directory))
            .expect("a fixture folder")
            .map(|entry| entry.expect("an entry").path())
            .filter(|path| has_extension(path, &["json", "yaml"]))
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).expect("a readable fixture");
            for document in kube::decode_stream(&bytes).flatten() {
                events.push((format!("{}", file.display()), document.event));
            }
        }
    }
    events
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extensions.contains(&extension))
}

fn body(outcome: Outcome) -> Option<(String, String)> {
    match outcome {
        Outcome::Ready(Payload { route, body, .. }) => Some((route.as_str().to_owned(), body)),
        Outcome::Nothing => None,
        other => panic!("not a payload or nothing: {other:?}"),
    }
}

#[test]
fn the_frozen_contract_is_byte_for_byte_what_was_released() {
    let wit = std::fs::read(repository().join("wit/0.1.0/telemetry.wit")).expect("wit/0.1.0");
    assert_eq!(
        hex(&Sha256::digest(&wit)),
        "4e88540c7acc865501e9b74220748893f9e50f46e22db0d4e46f5922cc9f4424",
        "wit/0.1.0 is frozen: a change of the contract is a new version in a new folder"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn each_build_is_read_as_the_version_it_implements() {
    let (old, new) = plugins();
    assert_eq!(old.contract(), ContractVersion::V0_1_0);
    assert_eq!(new.contract(), ContractVersion::V0_2_0);
    assert_eq!(old.description().reads, InputFields::all());
    assert_eq!(old.description().routes, None);
    assert!(!new.description().reads.contains(InputFields::IDENTITY));
    assert_eq!(new.description().routes.as_ref().map(Vec::len), Some(4));
    assert_eq!(old.description().fields, new.description().fields);
}

#[test]
fn both_builds_give_the_same_bodies_for_every_sample() {
    let (old, new) = plugins();
    let events = sample_events();
    assert!(events.len() >= 20, "only {} sample events", events.len());
    let mut payloads = 0;
    for (file, event) in &events {
        let old_body = body(pipeline::run(&old, &installation(), event.clone()));
        let new_body = body(pipeline::run(&new, &installation(), event.clone()));
        assert_eq!(old_body, new_body, "{file}");
        payloads += usize::from(new_body.is_some());
    }
    assert!(payloads >= 20, "only {payloads} payloads");
}

#[test]
fn a_batch_gives_the_same_bodies_as_one_event_a_call() {
    let (old, new) = plugins();
    let mut events: Vec<Event> = sample_events()
        .into_iter()
        .map(|(_, event)| event)
        .collect();
    events.extend(["v1.30.2", "v1.31.0-eks-1", "garbage"].map(created));
    for plugin in [&old, &new] {
        let batched = pipeline::run_batch(plugin, &installation(), events.clone());
        for (event, outcome) in events.iter().zip(batched) {
            let alone = pipeline::run(plugin, &installation(), event.clone());
            assert_eq!(body(outcome), body(alone), "{:?}", plugin.contract());
        }
    }
}

/// The groups whose strings name or locate something: what a plugin that
/// does not need them must never be shown. (The cluster UID is read by the
/// default plugin on purpose: it sends a pseudonym of it.)
const NAMING: InputFields = InputFields::IDENTITY
    .union(InputFields::LABELS)
    .union(InputFields::ANNOTATIONS)
    .union(InputFields::OWNER_IDENTITY)
    .union(InputFields::ADDRESSES)
    .union(InputFields::DATA_STORE_NAMES)
    .union(InputFields::USED_BY);

#[test]
fn the_new_build_is_never_shown_an_identifying_string() {
    // Read at the boundary, not off the build's own redaction report: a
    // plugin that declares what the 0.2.0 build declares is handed none of
    // the naming groups' strings, and every string of the groups it reads.
    let (_, new) = plugins();
    let reads = new.description().reads;
    assert!(!reads.intersects(NAMING), "{:?}", reads.names());
    assert_lowered_exactly(reads);
}

#[test]
fn a_plugin_is_handed_exactly_the_input_groups_it_declares() {
    let each_alone = InputFields::GROUPS.map(|(group, _, _)| group);
    for reads in [InputFields::empty(), InputFields::all()]
        .into_iter()
        .chain(each_alone)
    {
        assert_lowered_exactly(reads);
    }
}

/// Asserts that the echo plugin declaring `reads` was handed, for a batch
/// of every kind of event with every input field set, the strings of the
/// groups it reads and no string of any other.
fn assert_lowered_exactly(reads: InputFields) {
    let marked = Marked::new();
    let lowered = lowered_into_echo(reads, &marked);
    for (group, marker) in &marked.markers {
        let found = lowered
            .windows(marker.len())
            .any(|window| window == marker.as_bytes());
        assert_eq!(
            found,
            reads.contains(*group),
            "{marker} (reads {:?})",
            reads.names()
        );
    }
}

/// Every byte the host wrote into the echo plugin's memory for one batch
/// (the installation and the events, as lowered).
fn lowered_into_echo(reads: InputFields, marked: &Marked) -> Vec<u8> {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("an engine");
    let echo = runtime
        .load(echo_plugin(reads).as_bytes())
        .expect("the echo plugin loads");
    assert_eq!(echo.description().reads, reads, "its declaration, as read");
    let run = echo.handle_batch(&marked.installation, marked.events.clone());
    let answer = run.answers.into_iter().next().expect("an answer");
    let Ok(Some(payload)) = answer else {
        panic!("the echo plugin answers with its memory: {answer:?}")
    };
    hex::decode(payload.body).expect("the body is hex")
}

/// An installation and one event of each kind, every input field set to a
/// marker, `[group:field]`, that names its group and stands nowhere else.
struct Marked {
    installation: Installation,
    events: Vec<Event>,
    markers: Vec<(InputFields, String)>,
}

impl Marked {
    fn new() -> Self {
        let mut markers = Vec::new();
        let mut mark = |group: InputFields, field: &str| {
            let marker = format!("[{}:{field}]", group.names().join("+"));
            markers.push((group, marker.clone()));
            marker
        };
        let installation = Installation {
            cluster_uid: mark(InputFields::CLUSTER_UID, "cluster-uid"),
            kamaji_version: mark(InputFields::VERSIONS, "kamaji-version"),
            kubernetes_version: mark(InputFields::VERSIONS, "kubernetes-version"),
        };
        let tcp = marked_tcp(&mut mark);
        let store = DataStore {
            name: mark(InputFields::DATA_STORE_NAMES, "data-store-name"),
            driver: mark(InputFields::DRIVERS, "driver"),
            used_by: vec![mark(InputFields::USED_BY, "used-by")],
        };
        let events = vec![
            Event::Created(tcp.clone()),
            Event::Updated(TcpUpdate {
                previous: tcp.clone(),
                current: tcp.clone(),
            }),
            Event::Deleted(tcp.clone()),
            Event::Heartbeat(Fleet {
                tenant_control_planes: vec![tcp],
                data_stores: vec![store],
            }),
        ];
        Self {
            installation,
            events,
            markers,
        }
    }
}

fn marked_tcp(mark: &mut impl FnMut(InputFields, &str) -> String) -> TenantControlPlane {
    TenantControlPlane {
        name: mark(InputFields::IDENTITY, "name"),
        namespace: mark(InputFields::IDENTITY, "namespace"),
        uid: mark(InputFields::IDENTITY, "uid"),
        labels: vec![KeyValue {
            key: mark(InputFields::LABELS, "label-key"),
            value: mark(InputFields::LABELS, "label-value"),
        }],
        annotations: vec![KeyValue {
            key: mark(InputFields::ANNOTATIONS, "annotation-key"),
            value: mark(InputFields::ANNOTATIONS, "annotation-value"),
        }],
        owner_references: vec![OwnerReference {
            api_version: mark(InputFields::OWNER_KINDS, "api-version"),
            kind: mark(InputFields::OWNER_KINDS, "kind"),
            name: mark(InputFields::OWNER_IDENTITY, "name"),
            uid: mark(InputFields::OWNER_IDENTITY, "uid"),
        }],
        desired_version: Some(mark(InputFields::VERSIONS, "desired-version")),
        installed_version: Some(mark(InputFields::VERSIONS, "installed-version")),
        status: Some(mark(InputFields::STATUS, "status")),
        service_type: Some(mark(InputFields::EXPOSURE, "service-type")),
        ingress: Some(IngressExposure {
            hostname: Some(mark(InputFields::ADDRESSES, "ingress-hostname")),
            class_name: Some(mark(InputFields::EXPOSURE, "class-name")),
        }),
        gateway: Some(GatewayExposure {
            hostname: Some(mark(InputFields::ADDRESSES, "gateway-hostname")),
        }),
        network_address: Some(mark(InputFields::ADDRESSES, "network-address")),
        endpoint: Some(mark(InputFields::ADDRESSES, "endpoint")),
        data_store: Some(mark(InputFields::DATA_STORE_NAMES, "data-store")),
    }
}

/// A contract 0.2.0 plugin, in the component text format, that declares it
/// reads `reads` and answers every event of a batch with one body: the hex
/// of every byte its allocator handed out before the call began, which is
/// where the host lowered the installation and the events. So a test reads
/// what crossed the boundary, not what a plugin says it was shown.
///
/// Each call runs in a fresh instance, so that memory holds this call's
/// input alone. Its types are the contract's (`wit/0.2.0`), imported as a
/// plugin built by wit-bindgen imports them, so that its exports are named.
fn echo_plugin(reads: InputFields) -> String {
    // The model's bits are the contract's flags, in their order.
    ECHO_PLUGIN.replace("READS_BITS", &reads.bits().to_string())
}

const ECHO_PLUGIN: &str = r#"(component
  (import "kamaji:telemetry/types@0.2.0" (instance $types
    (type $installation' (record (field "cluster-uid" string) (field "kamaji-version" string) (field "kubernetes-version" string)))
    (export "installation" (type $installation (eq $installation')))
    (type $key-value' (record (field "key" string) (field "value" string)))
    (export "key-value" (type $key-value (eq $key-value')))
    (type $owner' (record (field "api-version" string) (field "kind" string) (field "name" string) (field "uid" string)))
    (export "owner-reference" (type $owner (eq $owner')))
    (type $ingress' (record (field "hostname" (option string)) (field "class-name" (option string))))
    (export "ingress-exposure" (type $ingress (eq $ingress')))
    (type $gateway' (record (field "hostname" (option string))))
    (export "gateway-exposure" (type $gateway (eq $gateway')))
    (type $tcp' (record (field "name" string) (field "namespace" string) (field "uid" string)
      (field "labels" (list $key-value)) (field "annotations" (list $key-value))
      (field "owner-references" (list $owner)) (field "desired-version" (option string))
      (field "installed-version" (option string)) (field "status" (option string))
      (field "service-type" (option string)) (field "ingress" (option $ingress))
      (field "gateway" (option $gateway)) (field "network-address" (option string))
      (field "endpoint" (option string)) (field "data-store" (option string))))
    (export "tenant-control-plane" (type $tcp (eq $tcp')))
    (type $update' (record (field "previous" $tcp) (field "current" $tcp)))
    (export "tcp-update" (type $update (eq $update')))
    (type $store' (record (field "name" string) (field "driver" string) (field "used-by" (list string)) (field "used-by-count" u32)))
    (export "data-store" (type $store (eq $store')))
    (type $fleet' (record (field "tenant-control-planes" (list $tcp)) (field "data-stores" (list $store))))
    (export "fleet" (type $fleet (eq $fleet')))
    (type $event' (variant (case "created" $tcp) (case "updated" $update) (case "deleted" $tcp) (case "heartbeat" $fleet)))
    (export "event" (type $event (eq $event')))
    (type $route' (enum "stats" "create" "update" "delete"))
    (export "route" (type $route (eq $route')))
    (type $action' (enum "dropped" "normalised" "pseudonymised"))
    (export "redaction-action" (type $action (eq $action')))
    (type $redaction' (record (field "field" string) (field "action" $action) (field "reason" string)))
    (export "redaction" (type $redaction (eq $redaction')))
    (type $payload' (record (field "route" $route) (field "body" string) (field "redactions" (list $redaction))))
    (export "payload" (type $payload (eq $payload')))
    (type $field-doc' (record (field "name" string) (field "route" $route) (field "meaning" string) (field "example" string)))
    (export "field-doc" (type $field-doc (eq $field-doc')))
    (type $reads' (flags "cluster-uid" "versions" "status" "exposure" "identity" "labels" "annotations"
      "owner-kinds" "owner-identity" "addresses" "data-store-names" "drivers" "used-by"))
    (export "input-fields" (type $reads (eq $reads')))
    (type $description' (record (field "name" string) (field "version" string) (field "wire-schema" string)
      (field "fields" (list $field-doc)) (field "reads" $reads) (field "routes" (list $route))))
    (export "description" (type $description (eq $description')))
    (type $error' (variant (case "malformed-input" string) (case "unsupported-event" string) (case "internal" string)))
    (export "plugin-error" (type $error (eq $error')))))
  (alias export $types "installation" (type $installation))
  (alias export $types "event" (type $event))
  (alias export $types "payload" (type $payload))
  (alias export $types "description" (type $description))
  (alias export $types "plugin-error" (type $plugin-error))

  (core module $echo
    (memory (export "memory") 1)
    ;; What the host lowers for a call is allocated from $heap up.
    (global $heap i32 (i32.const 1024))
    (global $top (mut i32) (i32.const 1024))
    (data (i32.const 100) "echo0.0.0kamaji-telemetry/v1\01")
    (data (i32.const 512) "0123456789abcdef")
    (func $realloc (export "cabi_realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $top) (i32.sub (local.get $align) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get $align))))
      (global.set $top (i32.add (local.get $at) (local.get $size)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $top) (i32.shl (memory.size) (i32.const 16))))
        (drop (memory.grow (i32.sub (i32.add (i32.shr_u (global.get $top) (i32.const 16)) (i32.const 1))
                                    (memory.size)))))
      (local.get $at))
    ;; A description at 0: name, version, wire schema, no fields, the reads, one route (create).
    (func (export "describe") (result i32)
      (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 4))
      (i32.store (i32.const 8) (i32.const 104)) (i32.store (i32.const 12) (i32.const 5))
      (i32.store (i32.const 16) (i32.const 109)) (i32.store (i32.const 20) (i32.const 19))
      (i32.store (i32.const 24) (i32.const 0)) (i32.store (i32.const 28) (i32.const 0))
      (i32.store16 (i32.const 32) (i32.const READS_BITS))
      (i32.store (i32.const 36) (i32.const 128)) (i32.store (i32.const 40) (i32.const 1))
      (i32.const 0))
    ;; The installation (three strings) and the events (a list), as lowered.
    (func (export "handle-batch") (param i32 i32 i32 i32 i32 i32 i32) (param $count i32) (result i32)
      (local $end i32) (local $hex i32) (local $at i32) (local $out i32) (local $answers i32) (local $answer i32) (local $ret i32)
      (local.set $end (global.get $top))
      (local.set $hex (call $realloc (i32.const 0) (i32.const 0) (i32.const 1)
        (i32.shl (i32.sub (local.get $end) (global.get $heap)) (i32.const 1))))
      (local.set $at (global.get $heap))
      (local.set $out (local.get $hex))
      (block $dumped
        (loop $byte
          (br_if $dumped (i32.ge_u (local.get $at) (local.get $end)))
          (i32.store8 (local.get $out)
            (i32.load8_u offset=512 (i32.shr_u (i32.load8_u (local.get $at)) (i32.const 4))))
          (i32.store8 offset=1 (local.get $out)
            (i32.load8_u offset=512 (i32.and (i32.load8_u (local.get $at)) (i32.const 15))))
          (local.set $at (i32.add (local.get $at) (i32.const 1)))
          (local.set $out (i32.add (local.get $out) (i32.const 2)))
          (br $byte)))
      ;; One answer per event, each ok(some(payload { create, the dump, no report })): 28 bytes.
      (local.set $answers (call $realloc (i32.const 0) (i32.const 0) (i32.const 4)
        (i32.mul (local.get $count) (i32.const 28))))
      (local.set $answer (local.get $answers))
      (block $answered
        (loop $each
          (br_if $answered (i32.ge_u (local.get $answer)
            (i32.add (local.get $answers) (i32.mul (local.get $count) (i32.const 28)))))
          (i32.store8 (local.get $answer) (i32.const 0))
          (i32.store8 offset=4 (local.get $answer) (i32.const 1))
          (i32.store8 offset=8 (local.get $answer) (i32.const 1))
          (i32.store offset=12 (local.get $answer) (local.get $hex))
          (i32.store offset=16 (local.get $answer) (i32.sub (local.get $out) (local.get $hex)))
          (i32.store offset=20 (local.get $answer) (i32.const 0))
          (i32.store offset=24 (local.get $answer) (i32.const 0))
          (local.set $answer (i32.add (local.get $answer) (i32.const 28)))
          (br $each)))
      (local.set $ret (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 8)))
      (i32.store (local.get $ret) (local.get $answers))
      (i32.store offset=4 (local.get $ret) (local.get $count))
      (local.get $ret)))
  (core instance $echo (instantiate $echo))
  (alias core export $echo "memory" (core memory $memory))
  (alias core export $echo "cabi_realloc" (core func $realloc))
  (func $describe (result $description)
    (canon lift (core func $echo "describe") (memory $memory) string-encoding=utf8))
  (func $handle-batch (param "installation" $installation) (param "events" (list $event))
    (result (list (result (option $payload) (error $plugin-error))))
    (canon lift (core func $echo "handle-batch") (memory $memory) (realloc $realloc) string-encoding=utf8))
  (instance $plugin (export "describe" (func $describe)) (export "handle-batch" (func $handle-batch)))
  (export "kamaji:telemetry/plugin@0.2.0" (instance $plugin)))"#;

#[test]
fn an_old_plugin_is_shown_everything_and_a_copy_is_still_blocked() {
    let runtime = PluginRuntime::new(SandboxLimits::default(), None).expect("an engine");
    let leaky = runtime
        .load(&crate::common::hostile("leak"))
        .expect("it loads");
    assert_eq!(leaky.contract(), ContractVersion::V0_1_0);
    let events = vec![created("v1.30.2"), created("v1.31.0")];
    for outcome in pipeline::run_batch(&leaky, &installation(), events) {
        assert!(matches!(outcome, Outcome::Blocked(_)), "{outcome:?}");
    }
}
