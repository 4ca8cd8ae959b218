//! Property tests of the leak guard and the redaction rules, over random
//! TenantControlPlanes and fleets whose strings are adversarial: any Unicode,
//! names that are also versions, status words or wire keys, IP addresses
//! inside labels and hostnames, and values tens of kilobytes long.
//!
//! `PROPTEST_CASES` sets the number of cases (64 by default: each one runs
//! the component through wasmtime in a debug build).

use kamaji_telemetry::leak_guard::{Leak, find_leak};
use kamaji_telemetry::model as contract;
use kamaji_telemetry_fuzz::{
    Case, CaseStrings, CopyingBody, DataStoreModel, Disguised, EventModel, InstallationModel,
    OwnerModel, Part, TcpModel, Text, default_plugin_words, host, kube_json, words,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(64),
        ..ProptestConfig::default()
    }
}

/// One part of an adversarial string.
fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        3 => any::<String>().prop_map(Part::Raw),
        3 => any::<u8>().prop_map(Part::Word),
        2 => (any::<bool>(), any::<[u16; 3]>(), select(vec![None, Some("-eks-5e0fdde"), Some("+k3s1"), Some("-")]))
            .prop_map(|(v, numbers, suffix)| Part::Version { v, numbers, suffix: suffix.map(str::to_owned) }),
        2 => (any::<[u8; 4]>(), proptest::option::of(any::<u16>()))
            .prop_map(|(octets, port)| Part::Ipv4 { octets, port }),
        1 => any::<u128>().prop_map(Part::Ipv6),
        1 => (any::<char>(), 1_000..20_000_u16).prop_map(|(unit, times)| Part::Run { unit, times }),
    ]
}

// Strategies are boxed: nested unboxed, their types (and a debug build's
// stack frames) grow past a test thread's stack.
fn text() -> BoxedStrategy<Text> {
    vec(part(), 0..3).prop_map(Text).boxed()
}

/// Versions and statuses are more often real ones, so that bodies carry them.
fn vocabulary_text() -> impl Strategy<Value = Text> {
    prop_oneof![
        text(),
        select(words().to_vec()).prop_map(|word| Text::word(&word))
    ]
}

fn pairs() -> impl Strategy<Value = Vec<(Text, Text)>> {
    vec((text(), text()), 0..4)
}

fn owner() -> impl Strategy<Value = OwnerModel> {
    (
        text(),
        prop_oneof![text(), Just(Text::word("KamajiControlPlane"))],
        text(),
        text(),
    )
        .prop_map(|(api_version, kind, name, uid)| OwnerModel {
            api_version,
            kind,
            name,
            uid,
        })
}

fn tcp() -> BoxedStrategy<TcpModel> {
    let identity = (text(), text(), text(), pairs(), pairs(), vec(owner(), 0..3));
    let versions = (
        proptest::option::of(vocabulary_text()),
        proptest::option::of(vocabulary_text()),
        proptest::option::of(vocabulary_text()),
        proptest::option::of(vocabulary_text()),
    );
    let exposure = (
        proptest::option::of((proptest::option::of(text()), proptest::option::of(text()))),
        proptest::option::of(proptest::option::of(text())),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
    );
    (identity, versions, exposure)
        .prop_map(
            |(
                (name, namespace, uid, labels, annotations, owners),
                (desired_version, installed_version, status, service_type),
                (ingress, gateway, network_address, endpoint, data_store),
            )| TcpModel {
                name,
                namespace,
                uid,
                labels,
                annotations,
                owners,
                desired_version,
                installed_version,
                status,
                service_type,
                ingress,
                gateway,
                network_address,
                endpoint,
                data_store,
            },
        )
        .boxed()
}

fn data_store() -> impl Strategy<Value = DataStoreModel> {
    (text(), vocabulary_text(), vec(text(), 0..4)).prop_map(|(name, driver, used_by)| {
        DataStoreModel {
            name,
            driver,
            used_by,
        }
    })
}

fn event() -> BoxedStrategy<EventModel> {
    prop_oneof![
        tcp().prop_map(EventModel::Created),
        (tcp(), tcp()).prop_map(|(previous, current)| EventModel::Updated {
            previous: Box::new(previous),
            current: Box::new(current),
        }),
        tcp().prop_map(EventModel::Deleted),
        (vec(tcp(), 0..4), vec(data_store(), 0..3))
            .prop_map(|(tcps, data_stores)| EventModel::Heartbeat { tcps, data_stores }),
    ]
    .boxed()
}

/// Installations with a real UID most of the time, so heartbeats are built.
fn installation() -> impl Strategy<Value = InstallationModel> {
    let uid = prop_oneof![
        3 => any::<u128>().prop_map(|bits| Text::word(&uuid::Uuid::from_u128(bits).to_string())),
        1 => text(),
    ];
    (uid, vocabulary_text(), vocabulary_text()).prop_map(
        |(cluster_uid, kamaji_version, kubernetes_version)| InstallationModel {
            cluster_uid,
            kamaji_version,
            kubernetes_version,
        },
    )
}

fn case() -> impl Strategy<Value = Case> {
    (installation(), event()).prop_map(|(installation, event)| Case {
        installation,
        event,
    })
}

proptest! {
    #![proptest_config(config())]

    /// Kubernetes JSON → decoder → component → leak guard: the decoder keeps
    /// every field, the component agrees with the plugin's native Rust, the
    /// guard blocks the body only where an input string really is in it, and
    /// the body is in the plugin's grammar.
    #[test]
    fn the_default_plugin_trips_the_leak_guard_only_with_a_real_copy(case in case()) {
        kamaji_telemetry_fuzz::pipeline(&case);
    }

    /// Non-interference: the body and the redaction report are the same
    /// whatever the identifying strings are (only whether each is empty may
    /// matter). It catches what the guard cannot: a value hashed or encoded.
    #[test]
    fn bodies_and_reports_depend_on_no_identifying_string(
        case in case(),
        replacement in "[a-z0-9]{1,12}",
    ) {
        let other = Case {
            installation: case.installation.clone(),
            event: replace_identifying(&case.event, &Text::word(&replacement)),
        };
        prop_assert_eq!(native(&case), native(&other));
    }

    /// A body that copies an identifying string is blocked: as it is, in
    /// another ASCII case, or JSON-escaped, inside a longer string.
    #[test]
    fn the_leak_guard_blocks_a_copied_identifying_string(
        case in case(),
        value in (text(), "[a-z]{3,8}").prop_map(|(text, tag)| format!("zq{tag}{}", text.render())),
        pick in any::<proptest::sample::Index>(),
        spelling in 0..3_usize,
    ) {
        let mut event = host::event(&case.event);
        let installation = host::installation(&case.installation);
        let field = plant(&mut event, &value, pick);
        let copied = match spelling {
            0 => value.clone(),
            1 => value.to_ascii_uppercase(),
            _ => value.encode_utf16().map(|unit| format!("\\u{unit:04x}")).collect(),
        };
        let quoted = if spelling == 2 {
            format!("\"x/{copied}/y\"")
        } else {
            serde_json::to_string(&format!("x/{copied}/y")).expect("a JSON string")
        };
        let body = format!(r#"{{"kamaji_version":"v1.0.0","note":{quoted}}}"#);
        let leak = find_leak(
            default_plugin_words(),
            std::slice::from_ref(&event),
            &installation,
            &body,
        );
        prop_assert!(matches!(leak, Some(Leak::Value { .. })), "{field}: {leak:?} in {body}");
    }
}

/// A plugin that copies random inputs in random disguises: the guard and
/// its naive reading agree on every body it builds.
fn copying_body() -> impl Strategy<Value = CopyingBody> {
    let disguised = (
        any::<u16>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0..6_u8,
        "([A-Za-z0-9]{0,6}[ /:_.=-]){0,1}",
        "([ /:_.=-][A-Za-z0-9]{0,6}){0,1}",
    )
        .prop_map(
            |(pick, upper_case, escaped, as_key, nesting, before, after)| Disguised {
                pick,
                upper_case,
                escaped,
                as_key,
                nesting,
                before,
                after,
            },
        );
    vec(disguised, 1..4).prop_map(|copies| CopyingBody { copies })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_leak_guard_agrees_with_its_naive_reading(case in case(), body in copying_body()) {
        let body = body.render(&CaseStrings::of(&case).identifying);
        kamaji_telemetry_fuzz::leak_guard(&case, &body);
    }
}

/// The plugin's native result for a case, as comparable text.
fn native(case: &Case) -> String {
    let payload = kamaji_telemetry_plugin::native::handle(
        &host::installation(&case.installation),
        &host::event(&case.event),
    );
    format!("{payload:?}")
}

/// The event with every non-empty identifying string replaced by `with`.
fn replace_identifying(event: &EventModel, with: &Text) -> EventModel {
    let tcp = |tcp: &TcpModel| replace_in_tcp(tcp, with);
    match event {
        EventModel::Created(t) => EventModel::Created(tcp(t)),
        EventModel::Updated { previous, current } => EventModel::Updated {
            previous: Box::new(tcp(previous)),
            current: Box::new(tcp(current)),
        },
        EventModel::Deleted(t) => EventModel::Deleted(tcp(t)),
        EventModel::Heartbeat { tcps, data_stores } => EventModel::Heartbeat {
            tcps: tcps.iter().map(tcp).collect(),
            data_stores: data_stores
                .iter()
                .map(|store| DataStoreModel {
                    name: replaced(&store.name, with),
                    driver: store.driver.clone(),
                    used_by: store
                        .used_by
                        .iter()
                        .map(|user| replaced(user, with))
                        .collect(),
                })
                .collect(),
        },
    }
}

fn replace_in_tcp(tcp: &TcpModel, with: &Text) -> TcpModel {
    let text = |t: &Text| replaced(t, with);
    let optional = |t: &Option<Text>| t.as_ref().map(text);
    // Keys are numbered, so that replacing them keeps the number of entries.
    let pairs = |pairs: &[(Text, Text)]| -> Vec<(Text, Text)> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (_, value))| (Text::word(&format!("key{i}")), text(value)))
            .collect()
    };
    TcpModel {
        name: text(&tcp.name),
        namespace: text(&tcp.namespace),
        uid: text(&tcp.uid),
        labels: pairs(&tcp.labels),
        annotations: pairs(&tcp.annotations),
        owners: tcp
            .owners
            .iter()
            .map(|owner| OwnerModel {
                name: text(&owner.name),
                uid: text(&owner.uid),
                ..owner.clone()
            })
            .collect(),
        ingress: tcp
            .ingress
            .as_ref()
            .map(|(hostname, class)| (optional(hostname), class.clone())),
        gateway: tcp.gateway.as_ref().map(optional),
        network_address: optional(&tcp.network_address),
        endpoint: optional(&tcp.endpoint),
        data_store: optional(&tcp.data_store),
        ..tcp.clone()
    }
}

/// `with`, unless `text` is empty: presence is not identifying.
fn replaced(text: &Text, with: &Text) -> Text {
    if text.render().is_empty() {
        text.clone()
    } else {
        with.clone()
    }
}

/// Puts `value` in one identifying field of the event (the cluster UID for
/// an empty heartbeat), and names the field.
fn plant(event: &mut contract::Event, value: &str, pick: proptest::sample::Index) -> &'static str {
    let tcp = match event {
        contract::Event::Created(tcp) | contract::Event::Deleted(tcp) => Some(tcp),
        contract::Event::Updated(update) => Some(&mut update.current),
        contract::Event::Heartbeat(fleet) => fleet.tenant_control_planes.first_mut(),
    };
    let Some(tcp) = tcp else {
        if let contract::Event::Heartbeat(fleet) = event {
            fleet.data_stores.push(contract::DataStore {
                name: value.to_owned(),
                driver: String::new(),
                used_by: Vec::new(),
            });
        }
        return "data-store.name";
    };
    let value = value.to_owned();
    match pick.index(6) {
        0 => {
            tcp.name = value;
            "name"
        }
        1 => {
            tcp.namespace = value;
            "namespace"
        }
        2 => {
            tcp.labels.push(contract::KeyValue {
                key: "k".into(),
                value,
            });
            "labels"
        }
        3 => {
            tcp.annotations.push(contract::KeyValue {
                key: value,
                value: String::new(),
            });
            "annotations"
        }
        4 => {
            tcp.endpoint = Some(value);
            "endpoint"
        }
        _ => {
            tcp.network_address = Some(value);
            "network-address"
        }
    }
}

#[test]
fn kube_json_of_a_case_is_one_admission_review() {
    let event = EventModel::Deleted(TcpModel {
        name: Text::word("Ready"),
        namespace: Text::word("v1.30.2"),
        uid: Text(vec![]),
        labels: vec![(
            Text::word("ip"),
            Text(vec![Part::Ipv4 {
                octets: [10, 0, 0, 1],
                port: Some(6443),
            }]),
        )],
        annotations: vec![],
        owners: vec![],
        desired_version: Some(Text::word("1.30.2")),
        installed_version: None,
        status: Some(Text::word("Ready")),
        service_type: None,
        ingress: None,
        gateway: None,
        network_address: None,
        endpoint: None,
        data_store: None,
    });
    let json = kube_json(&event);
    assert_eq!(json["request"]["operation"], "DELETE");
    assert_eq!(
        json["request"]["oldObject"]["metadata"]["labels"]["ip"],
        "10.0.0.1:6443"
    );
}

/// Found by the property above: an ingress hostname `v1.30.2` on a TCP whose
/// previous version was asked for as `1.30.2`, which the plugin sends as
/// `v1.30.2`. A version-shaped name is a name (issue 14), and a plugin shown
/// the hostname would have its body blocked. The default plugin declares that
/// it does not read addresses (contract 0.2.0): it is never shown the
/// hostname, so its body cannot copy it and goes, and the naive reading of
/// the rule, over what the plugin was shown, agrees.
#[test]
fn a_hostname_the_plugin_is_not_shown_cannot_block_the_version_it_spells() {
    let tcp = |desired: Option<&str>, hostname: Option<&str>| TcpModel {
        name: Text(vec![]),
        namespace: Text(vec![]),
        uid: Text(vec![]),
        labels: vec![],
        annotations: vec![],
        owners: vec![],
        desired_version: desired.map(Text::word),
        installed_version: None,
        status: None,
        service_type: None,
        ingress: hostname.map(|hostname| (Some(Text::word(hostname)), None)),
        gateway: None,
        network_address: None,
        endpoint: None,
        data_store: None,
    };
    kamaji_telemetry_fuzz::pipeline(&Case {
        installation: InstallationModel {
            cluster_uid: Text(vec![]),
            kamaji_version: Text(vec![]),
            kubernetes_version: Text(vec![]),
        },
        event: EventModel::Updated {
            previous: Box::new(tcp(Some("1.30.2"), None)),
            current: Box::new(tcp(None, Some("v1.30.2"))),
        },
    });
}
