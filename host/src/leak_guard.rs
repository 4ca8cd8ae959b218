//! The leak guard: before anything is sent, the host checks that the body
//! carries none of the identifying strings it passed in for that event, so a
//! body that does is blocked, whatever plugin built it.
//!
//! # Identifying strings
//!
//! The installation's `cluster-uid`; each TenantControlPlane's name,
//! namespace, uid, label and annotation keys and values, owner references'
//! names and uids, ingress and gateway hostnames, network address, endpoint
//! and DataStore name; each DataStore's name and `used-by` entries.
//!
//! # The matching rule
//!
//! 1. The body must be JSON; anything else is blocked. Every string in it,
//!    object keys included (and the strings of duplicate keys, which a
//!    receiver may read), is taken unescaped: `"\u0061cme"` is `acme`.
//! 2. An identifying string, trimmed of ASCII whitespace, is looked for only
//!    if it has at least three letters or digits: `1`, `a-b` or `v1`
//!    identify nothing. Nor does a version number, `v` then only digits and
//!    dots (`v1.30.2`, `v1.30`): it is the shape of every version a body
//!    carries, and a plugin re-renders versions (`1.30.2` is sent as
//!    `v1.30.2`), so a hostname `v1.30.2` could not be told from the TCP's
//!    version, while it tells nothing about the TCP that the version does not.
//! 3. It is found when a body string contains it, ignoring ASCII case, as a
//!    token: where it starts or ends with a letter or digit, the body's
//!    character beside it is not one. So `acme` is found in `acme`,
//!    `acme-prod` or `tcp/ACME`, but not in `acmeprod`, nor in the hex digits
//!    of a pseudonym that happen to spell a label value like `face`.
//! 4. A string found is let through if it is part of the vocabulary that
//!    bodies are made of legitimately: a non-identifying input of the same
//!    event (versions, statuses, service types, ingress classes, drivers,
//!    owner kinds and API versions, the installation's versions), Kamaji's
//!    enumerations, or a word of Kamaji's wire format. A TCP named `Ready`, a
//!    label `v1.27.0` (the TCP's version) or a namespace `tenant` (as in
//!    `tenant_control_plane`) cannot be told from what the body may say anyway.
//!
//! It catches copies, not encodings: a value hashed, reversed or base64-coded
//! passes. Keeping plugins honest about those is the sandbox's and the
//! plugin review's job; this guard catches the plugin bug that copies a field.
//!
//! # Cost
//!
//! The body's strings are indexed once by trigram (three bytes), with a
//! 64-Kibit bitset of the trigrams they hold. An identifying string that is
//! not in the body is nearly always ruled out by that bitset in a read or two.
//! One that passes is looked up in the index, and only the places of its
//! rarest trigram are compared, so a large body does not multiply the work.
//! The vocabulary is only built when some string is found. A 100,000-TCP
//! heartbeat (about two million identifying strings) against a 400-byte body
//! takes about 100 ms on one core (release build), most of it reading the
//! strings from memory.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::ops::ControlFlow;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::plugin::bindings::{DataStore, Event, Installation, KeyValue, TenantControlPlane};

/// Identifying strings with fewer letters and digits than this are not looked for.
const MIN_ALPHANUMERICS: usize = 3;

/// Kamaji's enumerations and the field names and values of its wire format v1
/// (see kamaji-telemetry-facts.md), which bodies are made of. Compared without
/// regard to ASCII case.
const VOCABULARY: &[&str] = &[
    // TenantControlPlane statuses.
    "Unknown",
    "Provisioning",
    "CertificateAuthorityRotating",
    "Upgrading",
    "Migrating",
    "Ready",
    "NotReady",
    "Sleeping",
    "WriteLimited",
    // Service types and exposures.
    "ClusterIP",
    "NodePort",
    "LoadBalancer",
    "ingress",
    "gateway",
    // DataStore drivers.
    "etcd",
    "PostgreSQL",
    "MySQL",
    "NATS",
    // The wire format's field names and normalised values.
    "uuid",
    "kamaji_version",
    "kubernetes_version",
    "tenant_control_plane",
    "running",
    "not_ready",
    "datastores",
    "postgres",
    "count",
    "used_by_count",
    "tcp_version",
    "old_tcp_version",
    "new_tcp_version",
    "status",
    "cluster_api",
    "network_profile",
    "load_balancer",
    "node_port",
    "cluster_ip",
];

/// Why a body is blocked. Its text goes to logs, so it names the input field,
/// never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Leak {
    /// The body contains an identifying input string.
    #[error("the body contains the value of {field}")]
    Value {
        /// The input field, as a path into the contract's types, for example
        /// `tenant-control-plane.labels`.
        field: &'static str,
    },
    /// The body is not JSON, so its strings cannot be checked.
    #[error("the body is not JSON (line {line}, column {column})")]
    NotJson { line: usize, column: usize },
}

/// The first identifying string of the event or installation that the body
/// contains, by the rule of the module docs.
pub fn find_leak(event: &Event, installation: &Installation, body: &str) -> Option<Leak> {
    let index = match BodyIndex::new(body) {
        Ok(index) => index,
        Err(error) => {
            return Some(Leak::NotJson {
                line: error.line(),
                column: error.column(),
            });
        }
    };
    let mut vocabulary = None;
    let mut needle = String::new();
    let found = for_each_input(event, installation, &mut |input| {
        let Input::Identifying(field, value) = input else {
            return ControlFlow::Continue(());
        };
        let value = value.trim_ascii();
        // The cheap test first: most strings are ruled out by it.
        if !index.may_contain(value) || !identifies(value) {
            return ControlFlow::Continue(());
        }
        needle.clear();
        needle.push_str(value);
        needle.make_ascii_lowercase();
        let leaks = index.contains_token(needle.as_bytes())
            && !vocabulary
                .get_or_insert_with(|| Vocabulary::of(event, installation))
                .contains(&needle);
        if leaks {
            ControlFlow::Break(field)
        } else {
            ControlFlow::Continue(())
        }
    });
    match found {
        ControlFlow::Break(field) => Some(Leak::Value { field }),
        ControlFlow::Continue(()) => None,
    }
}

/// Whether a string can identify anything (rule 2 of the module docs).
fn identifies(value: &str) -> bool {
    !is_version_number(value)
        && value
            .chars()
            .filter(|c| c.is_alphanumeric())
            .nth(MIN_ALPHANUMERICS - 1)
            .is_some()
}

/// `v` or `V`, then digits and dots only.
fn is_version_number(value: &str) -> bool {
    value.strip_prefix(['v', 'V']).is_some_and(|number| {
        number
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
    })
}

/// One string of an event's input.
enum Input<'a> {
    /// Identifying, with its field's path.
    Identifying(&'static str, &'a str),
    /// Not identifying: a value that may flow into bodies as it is.
    Vocabulary(&'a str),
}

/// Calls `visit` with every string of the input, until it breaks.
fn for_each_input<B>(
    event: &Event,
    installation: &Installation,
    visit: &mut impl FnMut(Input<'_>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    visit(Input::Identifying(
        "installation.cluster-uid",
        &installation.cluster_uid,
    ))?;
    visit(Input::Vocabulary(&installation.kamaji_version))?;
    visit(Input::Vocabulary(&installation.kubernetes_version))?;
    match event {
        Event::Created(tcp) | Event::Deleted(tcp) => tenant_control_plane_inputs(tcp, visit),
        Event::Updated(update) => {
            tenant_control_plane_inputs(&update.previous, visit)?;
            tenant_control_plane_inputs(&update.current, visit)
        }
        Event::Heartbeat(fleet) => {
            for tcp in &fleet.tenant_control_planes {
                tenant_control_plane_inputs(tcp, visit)?;
            }
            for data_store in &fleet.data_stores {
                data_store_inputs(data_store, visit)?;
            }
            ControlFlow::Continue(())
        }
    }
}

fn tenant_control_plane_inputs<B>(
    tcp: &TenantControlPlane,
    visit: &mut impl FnMut(Input<'_>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    use Input::{Identifying, Vocabulary};
    visit(Identifying("tenant-control-plane.name", &tcp.name))?;
    visit(Identifying(
        "tenant-control-plane.namespace",
        &tcp.namespace,
    ))?;
    visit(Identifying("tenant-control-plane.uid", &tcp.uid))?;
    let maps = [
        ("tenant-control-plane.labels", &tcp.labels),
        ("tenant-control-plane.annotations", &tcp.annotations),
    ];
    for (field, entries) in maps {
        for KeyValue { key, value } in entries {
            visit(Identifying(field, key))?;
            visit(Identifying(field, value))?;
        }
    }
    for owner in &tcp.owner_references {
        visit(Identifying(
            "tenant-control-plane.owner-references.name",
            &owner.name,
        ))?;
        visit(Identifying(
            "tenant-control-plane.owner-references.uid",
            &owner.uid,
        ))?;
        visit(Vocabulary(&owner.kind))?;
        visit(Vocabulary(&owner.api_version))?;
    }
    let ingress = tcp.ingress.as_ref();
    let identifying = [
        (
            "tenant-control-plane.ingress.hostname",
            ingress.and_then(|ingress| ingress.hostname.as_deref()),
        ),
        (
            "tenant-control-plane.gateway.hostname",
            tcp.gateway
                .as_ref()
                .and_then(|gateway| gateway.hostname.as_deref()),
        ),
        (
            "tenant-control-plane.network-address",
            tcp.network_address.as_deref(),
        ),
        ("tenant-control-plane.endpoint", tcp.endpoint.as_deref()),
        ("tenant-control-plane.data-store", tcp.data_store.as_deref()),
    ];
    for (field, value) in identifying {
        if let Some(value) = value {
            visit(Identifying(field, value))?;
        }
    }
    let vocabulary = [
        tcp.desired_version.as_deref(),
        tcp.installed_version.as_deref(),
        tcp.status.as_deref(),
        tcp.service_type.as_deref(),
        ingress.and_then(|ingress| ingress.class_name.as_deref()),
    ];
    for value in vocabulary.into_iter().flatten() {
        visit(Vocabulary(value))?;
    }
    ControlFlow::Continue(())
}

fn data_store_inputs<B>(
    data_store: &DataStore,
    visit: &mut impl FnMut(Input<'_>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    visit(Input::Identifying("data-store.name", &data_store.name))?;
    visit(Input::Vocabulary(&data_store.driver))?;
    for user in &data_store.used_by {
        visit(Input::Identifying("data-store.used-by", user))?;
    }
    ControlFlow::Continue(())
}

/// The lower-cased words that bodies are made of legitimately: an identifying
/// string inside one of them identifies nothing.
struct Vocabulary(Vec<String>);

impl Vocabulary {
    fn of(event: &Event, installation: &Installation) -> Self {
        let mut words: BTreeSet<String> = VOCABULARY
            .iter()
            .map(|word| word.to_ascii_lowercase())
            .collect();
        let ControlFlow::Continue(()) =
            for_each_input::<Infallible>(event, installation, &mut |input| {
                if let Input::Vocabulary(value) = input {
                    words.insert(value.trim().to_ascii_lowercase());
                }
                ControlFlow::Continue(())
            });
        Vocabulary(words.into_iter().collect())
    }

    fn contains(&self, needle: &str) -> bool {
        self.0.iter().any(|word| word.contains(needle))
    }
}

/// Stands between the body's strings in the index. Its places are recorded,
/// so that a match cannot span two strings even when the identifying string
/// holds a NUL itself.
const SEPARATOR: u8 = 0;

/// The body's strings, each after a separator, and where the separators are.
#[derive(Default)]
struct Strings {
    text: Vec<u8>,
    separators: Vec<usize>,
}

impl Strings {
    fn push_separator(&mut self) {
        self.separators.push(self.text.len());
        self.text.push(SEPARATOR);
    }
}

/// The body's strings, lower-cased (ASCII), indexed by trigram.
struct BodyIndex {
    /// Every string, each after a separator, and one separator at the end:
    /// every byte of a string has a neighbour on both sides.
    text: Vec<u8>,
    /// Where the separators are in `text`, in order.
    separators: Vec<usize>,
    /// Where each trigram of `text` starts.
    trigrams: HashMap<u32, Vec<usize>>,
    /// A bit per hashed trigram of `text`: a string with a trigram whose bit
    /// is clear is not in the body, which one memory read tells.
    seen: Vec<u64>,
}

/// The bits of `BodyIndex::seen`; few bodies have more than a few hundred
/// trigrams, so a clear bit is the rule for a string absent from the body.
const SEEN_BITS: usize = 1 << 16;

impl BodyIndex {
    fn new(body: &str) -> Result<Self, serde_json::Error> {
        let mut strings = Strings {
            text: Vec::with_capacity(body.len() + 1),
            separators: Vec::new(),
        };
        let mut deserializer = serde_json::Deserializer::from_str(body);
        StringCollector(&mut strings).deserialize(&mut deserializer)?;
        deserializer.end()?;
        strings.push_separator();
        let Strings {
            mut text,
            separators,
        } = strings;
        text.make_ascii_lowercase();
        let mut trigrams: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut seen = vec![0; SEEN_BITS / 64];
        for (start, key) in trigram_keys(&text).enumerate() {
            trigrams.entry(key).or_default().push(start);
            let bit = seen_bit(key);
            seen[bit / 64] |= 1 << (bit % 64);
        }
        Ok(BodyIndex {
            text,
            separators,
            trigrams,
            seen,
        })
    }

    /// False if `value`, in any ASCII case, is certainly not in the body.
    fn may_contain(&self, value: &str) -> bool {
        value.len() >= 3
            && trigram_keys(value.as_bytes()).all(|key| {
                let bit = seen_bit(key);
                self.seen[bit / 64] & (1 << (bit % 64)) != 0
            })
    }

    /// Whether `needle`, lower-cased and at least three bytes long, occurs in
    /// one of the body's strings as a token (rule 3 of the module docs).
    fn contains_token(&self, needle: &[u8]) -> bool {
        // Only the places of the needle's rarest trigram are compared; a
        // trigram the body lacks rules the needle out at once.
        let mut rarest: Option<(usize, &[usize])> = None;
        for (offset, key) in trigram_keys(needle).enumerate() {
            let Some(starts) = self.trigrams.get(&key) else {
                return false;
            };
            if rarest.is_none_or(|(_, fewest)| starts.len() < fewest.len()) {
                rarest = Some((offset, starts));
            }
        }
        rarest.is_some_and(|(offset, starts)| {
            starts
                .iter()
                .filter_map(|start| start.checked_sub(offset))
                .any(|start| self.token_at(start, needle))
        })
    }

    fn token_at(&self, start: usize, needle: &[u8]) -> bool {
        let end = start + needle.len();
        if self.text.get(start..end) != Some(needle) || self.spans_strings(start, end) {
            return false;
        }
        let continues_word = |edge: Option<&u8>, beside: Option<&u8>| {
            edge.is_some_and(|&byte| is_word(byte)) && beside.is_some_and(|&byte| is_word(byte))
        };
        let before = start.checked_sub(1).and_then(|at| self.text.get(at));
        !continues_word(needle.first(), before)
            && !continues_word(needle.last(), self.text.get(end))
    }
}

impl BodyIndex {
    /// Whether `start..end` crosses from one body string into another.
    fn spans_strings(&self, start: usize, end: usize) -> bool {
        let next = self.separators.partition_point(|&at| at < start);
        self.separators.get(next).is_some_and(|&at| at < end)
    }
}

/// The trigrams of `bytes`, each packed in the low three bytes of a `u32`.
fn trigram_keys(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes.windows(3).map(|window| {
        window
            .iter()
            .rev()
            .fold(0, |key, &byte| (key << 8) | u32::from(byte))
    })
}

/// A trigram's bit in `BodyIndex::seen` (below `SEEN_BITS`, so indexing with
/// it cannot fail), the same in any ASCII case: setting
/// bit 5 of each byte maps `A`-`Z` onto `a`-`z`. It maps some other bytes
/// together too (`@` and `` ` ``), which can only let a string on to the exact
/// test, never rule one out wrongly.
fn seen_bit(key: u32) -> usize {
    const LOWER_CASE: u32 = 0x0020_2020;
    // Fibonacci hashing: the top bits of the product mix all three bytes.
    ((key | LOWER_CASE).wrapping_mul(0x9E37_79B9) >> (32 - SEEN_BITS.trailing_zeros())) as usize
}

/// Letters and digits; bytes of non-ASCII characters count as letters.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || !byte.is_ascii()
}

/// Appends every string of a JSON value to a text, object keys included, each
/// after a separator. Unlike `serde_json::Value`, it keeps the strings of
/// duplicate keys.
struct StringCollector<'t>(&'t mut Strings);

impl<'de> DeserializeSeed<'de> for StringCollector<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringCollector<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        self.0.push_separator();
        self.0.text.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(StringCollector(&mut *self.0))?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(StringCollector(&mut *self.0))?.is_some() {
            map.next_value_seed(StringCollector(&mut *self.0))?;
        }
        Ok(())
    }

    // Numbers, booleans and null carry no identifying strings.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(body: &str) -> BodyIndex {
        BodyIndex::new(body).expect("a JSON body")
    }

    #[test]
    fn the_index_holds_keys_values_and_duplicates_unescaped() {
        let index = index(r#"{"A\u0062c": ["x", 1, true, null, {"k": "dup"}], "k": "Dup"}"#);
        assert_eq!(index.text, b"\0abc\0x\0k\0dup\0k\0dup\0");
    }

    #[test]
    fn a_match_never_spans_two_body_strings() {
        // A NUL in an identifying string matches a literal NUL in one body
        // string, but never the place between two strings.
        let index = index(r#"{"a": "Unknown", "b": "x\u0000unknown"}"#);
        assert!(!index.contains_token(b"a\0unknown"));
        assert!(index.contains_token(b"x\0unknown"));
    }

    #[test]
    fn tokens_need_no_letter_or_digit_beside_their_word_edges() {
        let index = index(r#"{"a": "tcp/acme-prod", "b": "5f2cface9e"}"#);
        assert!(index.contains_token(b"acme"));
        assert!(index.contains_token(b"acme-prod"));
        assert!(index.contains_token(b"tcp/acme-prod"));
        assert!(index.contains_token(b"/acme"));
        assert!(!index.contains_token(b"cme-prod"));
        assert!(!index.contains_token(b"face"));
    }

    #[test]
    fn the_rarest_trigram_finds_a_needle_among_many_candidates() {
        let body = format!(r#"{{"a": "{} aab"}}"#, "a".repeat(1000));
        let index = index(&body);
        assert!(index.contains_token(b"aab"));
        assert!(!index.contains_token(b"aaab"));
    }

    #[test]
    fn version_numbers_identify_nothing_but_addresses_do() {
        for value in ["v1.30.2", "V1.30", "v1.30.2.", "v10000.0.0"] {
            assert!(!identifies(value), "{value}");
        }
        for value in ["10.0.0.1", "v1.30.2-eks", "v1.30.2x", "acme", "1.30.2"] {
            assert!(identifies(value), "{value}");
        }
    }

    #[test]
    fn not_json_is_reported_with_its_position() {
        let installation = Installation {
            cluster_uid: String::new(),
            kamaji_version: String::new(),
            kubernetes_version: String::new(),
        };
        let event = Event::Heartbeat(crate::plugin::bindings::Fleet {
            tenant_control_planes: Vec::new(),
            data_stores: Vec::new(),
        });
        for (body, line, column) in [("{\"a\": }", 1, 7), ("{} {}", 1, 4), ("", 1, 0)] {
            assert_eq!(
                find_leak(&event, &installation, body),
                Some(Leak::NotJson { line, column }),
                "{body:?}"
            );
        }
    }
}
