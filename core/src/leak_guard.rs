//! The leak guard: before anything is sent, the host checks that the body
//! carries none of the identifying strings it passed in, so a body that does
//! is blocked, whatever plugin built it.
//!
//! "Passed in" means what the plugin was shown ([`crate::withhold`]) of every
//! event of the call that built the body: a plugin handed a batch could carry
//! one event's name into another event's body, and a field it never saw it
//! cannot copy.
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
//!    receiver may read), is taken unescaped (`"\u0061cme"` is `acme`) and
//!    lower-cased (Unicode), as is every identifying string, trimmed of
//!    whitespace.
//! 2. An identifying string is found when a body string contains it as a
//!    token: where it starts or ends with a letter or digit, the body's
//!    character beside it is not one. So `acme` is found in `acme`,
//!    `acme-prod`, `tcp/ACME` or `payments.acme.example/v1`, but not in
//!    `acmeprod`, nor in the hex digits of a pseudonym that happen to spell a
//!    label value like `face`. A version-shaped name (`v1.28.7`) is a name
//!    like any other.
//! 3. **Short strings** (fewer than three letters or digits: `1`, `a-b`,
//!    `v1`) are found only when a body string is exactly that string. As
//!    tokens they would be found everywhere (`v1` in every version, `1` in
//!    every pseudonym) and block every body; checked whole, they still stop
//!    a plugin that copies them into a value of their own. An empty string
//!    identifies nothing.
//! 4. Two things are let through, and no others:
//!    - an identifying string that is *exactly* a non-identifying value of
//!      the same event (a version, status, service type, ingress class,
//!      driver, owner kind or API version, an installation version): a TCP
//!      named `Ready` cannot be told from its status;
//!    - a body string that is exactly a *declared word* of the loaded plugin:
//!      a segment of a field name or a word of a field's meaning in its
//!      `describe` ([`DeclaredWords`]). The plugin published them before it
//!      saw any input, so they are no copy of it: a namespace `kamaji` is
//!      not found in the key `kamaji_version`. Only whole body strings are
//!      let through this way; a word the plugin declared cannot hide a copy
//!      inside it.
//!
//!    There is no vocabulary of the default plugin's in the host, and no
//!    substring exemption: `acme` inside an owner's `apiVersion` is still
//!    `acme`.
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
//! The exemptions are only built when some string is found. A 100,000-TCP
//! heartbeat (about two million identifying strings) against a 400-byte body
//! takes about 100 ms on one core (release build), most of it reading the
//! strings from memory.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::model::{DataStore, Description, Event, Installation, KeyValue, TenantControlPlane};

/// Identifying strings with fewer letters and digits than this are only
/// looked for as whole body strings (rule 3).
const MIN_TOKEN_ALPHANUMERICS: usize = 3;

/// The words a plugin declared in its description, before it saw any input,
/// lower-cased: body strings that are exactly one of them are not searched
/// (rule 4 of the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredWords(HashSet<String>);

impl DeclaredWords {
    /// The segments of every field name (`tenant_control_plane.running` gives
    /// `tenant_control_plane` and `running`) and the words (runs of letters,
    /// digits and `_`) of every field's meaning.
    pub fn of(description: &Description) -> Self {
        let mut words = HashSet::new();
        for field in &description.fields {
            words.extend(field.name.split('.').map(str::to_lowercase));
            words.extend(
                field
                    .meaning
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|word| !word.is_empty())
                    .map(str::to_lowercase),
            );
        }
        words.remove("");
        DeclaredWords(words)
    }

    /// Whether `lower_case` is one of the words.
    pub fn contains(&self, lower_case: &str) -> bool {
        self.0.contains(lower_case)
    }

    /// The words, lower-cased, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

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

impl Leak {
    fn not_json(error: &serde_json::Error) -> Self {
        Leak::NotJson {
            line: error.line(),
            column: error.column(),
        }
    }
}

/// The first identifying string of the events or the installation that the
/// body contains, by the rule of the module docs, given the words the plugin
/// that built the body declared.
///
/// `events` are every event the plugin was handed in the call that built the
/// body (its batch): a plugin that carried one event's name into another
/// event's body is caught too. A value is exempt when it is exactly a
/// non-identifying value of any of them.
pub fn find_leak(
    declared: &DeclaredWords,
    events: &[Event],
    installation: &Installation,
    body: &str,
) -> Option<Leak> {
    let index = match BodyIndex::new(body, declared) {
        Ok(index) => index,
        Err(error) => return Some(Leak::not_json(&error)),
    };
    let mut search = Search::of(&index);
    let found = for_each_input(events, installation, &mut |input| match input {
        Input::Identifying(field, value)
            if search.finds(value, || non_identifying_values(events, installation)) =>
        {
            ControlFlow::Break(field)
        }
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break(field) => Some(Leak::Value { field }),
        ControlFlow::Continue(()) => None,
    }
}

/// The input strings of a batch, gathered once for all of its bodies: the
/// bodies of a batch of n events are then searched in n times the strings,
/// not n². Empty strings identify nothing and are left out, so a plugin shown
/// only a few fields costs only their search.
#[derive(Debug)]
pub struct BatchInputs<'a> {
    identifying: Vec<(&'static str, &'a str)>,
    non_identifying: Vec<&'a str>,
}

impl<'a> BatchInputs<'a> {
    pub fn of(events: &'a [Event], installation: &'a Installation) -> Self {
        let mut inputs = BatchInputs {
            identifying: Vec::new(),
            non_identifying: Vec::new(),
        };
        let _ = for_each_input::<()>(events, installation, &mut |input| {
            match input {
                Input::Identifying(field, value) if !value.trim().is_empty() => {
                    inputs.identifying.push((field, value));
                }
                Input::Identifying(..) => {}
                Input::NonIdentifying(value) => inputs.non_identifying.push(value),
            }
            ControlFlow::Continue(())
        });
        inputs
    }

    /// [`find_leak`] of `body` against these inputs.
    pub fn find_leak(&self, declared: &DeclaredWords, body: &str) -> Option<Leak> {
        let index = match BodyIndex::new(body, declared) {
            Ok(index) => index,
            Err(error) => return Some(Leak::not_json(&error)),
        };
        let mut search = Search::of(&index);
        let exempt = || {
            self.non_identifying
                .iter()
                .map(|value| value.trim().to_lowercase())
                .collect()
        };
        self.identifying
            .iter()
            .find(|(_, value)| search.finds(value, exempt))
            .map(|(field, _)| Leak::Value { field })
    }
}

/// One body searched for one event's identifying strings. What only some
/// searches need is built on first use.
struct Search<'i> {
    index: &'i BodyIndex,
    /// The body's strings, for short identifying strings (rule 3).
    whole_strings: Option<HashSet<&'i [u8]>>,
    /// The event's non-identifying values, lower-cased (rule 4).
    exempt: Option<HashSet<String>>,
    /// The identifying string being looked for, lower-cased.
    needle: String,
}

impl<'i> Search<'i> {
    fn of(index: &'i BodyIndex) -> Self {
        Search {
            index,
            whole_strings: None,
            exempt: None,
            needle: String::new(),
        }
    }

    fn finds(&mut self, value: &str, exempt: impl FnOnce() -> HashSet<String>) -> bool {
        let value = value.trim();
        // The cheap test first: most strings are ruled out by it. It folds
        // ASCII case only, so other strings are lower-cased before it, and
        // it needs a trigram.
        if value.len() >= 3 && value.is_ascii() && !self.index.may_contain(value.as_bytes()) {
            return false;
        }
        self.needle.clear();
        if value.is_ascii() {
            self.needle.push_str(value);
            self.needle.make_ascii_lowercase();
        } else {
            self.needle.push_str(&value.to_lowercase());
        }
        let needle = self.needle.as_bytes();
        let present = if is_short(&self.needle) {
            !needle.is_empty()
                && self
                    .whole_strings
                    .get_or_insert_with(|| self.index.strings().collect())
                    .contains(needle)
        } else {
            self.index.may_contain(needle) && self.index.contains_token(needle)
        };
        present
            && !self
                .exempt
                .get_or_insert_with(exempt)
                .contains(&self.needle)
    }
}

/// Fewer letters and digits than a token needs (rule 3).
fn is_short(value: &str) -> bool {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .nth(MIN_TOKEN_ALPHANUMERICS - 1)
        .is_none()
}

fn non_identifying_values(events: &[Event], installation: &Installation) -> HashSet<String> {
    let mut values = HashSet::new();
    let _ = for_each_input::<()>(events, installation, &mut |input| {
        if let Input::NonIdentifying(value) = input {
            values.insert(value.trim().to_lowercase());
        }
        ControlFlow::Continue(())
    });
    values
}

/// One string of an event's input.
enum Input<'a> {
    /// Identifying, with its field's path.
    Identifying(&'static str, &'a str),
    /// Not identifying: a value that may flow into bodies as it is.
    NonIdentifying(&'a str),
}

/// Calls `visit` with every string of the input, until it breaks.
fn for_each_input<'a, B>(
    events: &'a [Event],
    installation: &'a Installation,
    visit: &mut impl FnMut(Input<'a>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    visit(Input::Identifying(
        "installation.cluster-uid",
        &installation.cluster_uid,
    ))?;
    visit(Input::NonIdentifying(&installation.kamaji_version))?;
    visit(Input::NonIdentifying(&installation.kubernetes_version))?;
    events
        .iter()
        .try_for_each(|event| event_inputs(event, visit))
}

fn event_inputs<'a, B>(
    event: &'a Event,
    visit: &mut impl FnMut(Input<'a>) -> ControlFlow<B>,
) -> ControlFlow<B> {
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

fn tenant_control_plane_inputs<'a, B>(
    tcp: &'a TenantControlPlane,
    visit: &mut impl FnMut(Input<'a>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    use Input::{Identifying, NonIdentifying};
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
        visit(NonIdentifying(&owner.kind))?;
        visit(NonIdentifying(&owner.api_version))?;
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
    let non_identifying = [
        tcp.desired_version.as_deref(),
        tcp.installed_version.as_deref(),
        tcp.status.as_deref(),
        tcp.service_type.as_deref(),
        ingress.and_then(|ingress| ingress.class_name.as_deref()),
    ];
    for value in non_identifying.into_iter().flatten() {
        visit(NonIdentifying(value))?;
    }
    ControlFlow::Continue(())
}

fn data_store_inputs<'a, B>(
    data_store: &'a DataStore,
    visit: &mut impl FnMut(Input<'a>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    visit(Input::Identifying("data-store.name", &data_store.name))?;
    visit(Input::NonIdentifying(&data_store.driver))?;
    for user in &data_store.used_by {
        visit(Input::Identifying("data-store.used-by", user))?;
    }
    ControlFlow::Continue(())
}

/// Stands between the body's strings in the index. Its places are recorded,
/// so that a match cannot span two strings even when the identifying string
/// holds a NUL itself.
const SEPARATOR: u8 = 0;

/// The body's strings, lower-cased, each after a separator, and where the
/// separators are; the plugin's declared words are left out (rule 4).
struct Strings<'d> {
    text: Vec<u8>,
    separators: Vec<usize>,
    declared: &'d DeclaredWords,
}

impl Strings<'_> {
    fn push_separator(&mut self) {
        self.separators.push(self.text.len());
        self.text.push(SEPARATOR);
    }

    fn push(&mut self, value: &str) {
        let start = self.text.len();
        self.push_separator();
        if value.is_ascii() {
            self.text.extend_from_slice(value.as_bytes());
            self.text[start + 1..].make_ascii_lowercase();
        } else {
            self.text.extend_from_slice(value.to_lowercase().as_bytes());
        }
        let pushed = std::str::from_utf8(&self.text[start + 1..]).unwrap_or_default();
        if self.declared.contains(pushed) {
            self.text.truncate(start);
            self.separators.pop();
        }
    }
}

/// The body's strings, lower-cased, indexed by trigram.
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
    fn new(body: &str, declared: &DeclaredWords) -> Result<Self, serde_json::Error> {
        let mut strings = Strings {
            text: Vec::with_capacity(body.len() + 1),
            separators: Vec::new(),
            declared,
        };
        let mut deserializer = serde_json::Deserializer::from_str(body);
        StringCollector(&mut strings).deserialize(&mut deserializer)?;
        deserializer.end()?;
        strings.push_separator();
        let Strings {
            text, separators, ..
        } = strings;
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

    /// The body's strings, each whole.
    fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.separators
            .windows(2)
            .filter_map(|pair| self.text.get(pair[0] + 1..pair[1]))
    }

    /// False if `value`, in any ASCII case, is certainly not in the body.
    fn may_contain(&self, value: &[u8]) -> bool {
        value.len() >= 3
            && trigram_keys(value).all(|key| {
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
struct StringCollector<'t, 'd>(&'t mut Strings<'d>);

impl<'de> DeserializeSeed<'de> for StringCollector<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringCollector<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        self.0.push(value);
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
    use crate::model::{FieldDoc, Fleet, InputFields, Route, TenantControlPlane};

    fn index(body: &str) -> BodyIndex {
        BodyIndex::new(body, &DeclaredWords::default()).expect("a JSON body")
    }

    #[test]
    fn the_index_holds_keys_values_and_duplicates_unescaped_and_lower_cased() {
        let index = index(r#"{"A\u0062c": ["x", 1, true, null, {"k": "dup"}], "k": "DÜP"}"#);
        assert_eq!(index.text, "\0abc\0x\0k\0dup\0k\0düp\0".as_bytes());
        let strings: Vec<&[u8]> = index.strings().collect();
        assert_eq!(strings[0], b"abc");
        assert_eq!(strings.len(), 6);
    }

    #[test]
    fn declared_words_are_left_out_of_the_index_whole_only() {
        let description = Description {
            name: "p".into(),
            version: "0".into(),
            wire_schema: "s".into(),
            fields: vec![FieldDoc {
                name: "kamaji_version.inner".into(),
                route: Route::Stats,
                meaning: "One of load_balancer or Ready (see spec.x).".into(),
                example: "\"acme\"".into(),
            }],
            reads: InputFields::all(),
            routes: None,
        };
        let declared = DeclaredWords::of(&description);
        for word in ["kamaji_version", "inner", "load_balancer", "ready", "spec"] {
            assert!(declared.contains(word), "{word}");
        }
        assert!(!declared.contains("acme"), "examples declare nothing");
        let index = BodyIndex::new(
            r#"{"kamaji_version": "READY", "note": "kamaji_version-acme"}"#,
            &declared,
        )
        .expect("JSON");
        assert_eq!(index.text, b"\0note\0kamaji_version-acme\0");
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
    fn short_strings_are_those_with_fewer_than_three_letters_or_digits() {
        for value in ["", "1", "v1", "a-b", "--", "é1"] {
            assert!(is_short(value), "{value}");
        }
        for value in ["abc", "v1.3", "1.30.2", "a-b-c", "ééé"] {
            assert!(!is_short(value), "{value}");
        }
    }

    #[test]
    fn not_json_is_reported_with_its_position() {
        let installation = Installation {
            cluster_uid: String::new(),
            kamaji_version: String::new(),
            kubernetes_version: String::new(),
        };
        let event = Event::Heartbeat(Fleet {
            tenant_control_planes: Vec::new(),
            data_stores: Vec::new(),
        });
        let declared = DeclaredWords::default();
        for (body, line, column) in [("{\"a\": }", 1, 7), ("{} {}", 1, 4), ("", 1, 0)] {
            assert_eq!(
                find_leak(&declared, std::slice::from_ref(&event), &installation, body),
                Some(Leak::NotJson { line, column }),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_body_is_checked_against_every_event_of_its_batch() {
        let tcp = |name: &str, status: &str| TenantControlPlane {
            name: name.into(),
            status: Some(status.into()),
            ..TenantControlPlane::default()
        };
        let batch = [
            Event::Created(tcp("acme-prod", "Ready")),
            Event::Created(tcp("Sleeping", "Upgrading")),
            Event::Deleted(tcp("zeta-dev", "Sleeping")),
        ];
        let installation = Installation::default();
        let declared = DeclaredWords::default();
        let gathered = BatchInputs::of(&batch, &installation);
        let leak = |body: &str| {
            let found = find_leak(&declared, &batch, &installation, body);
            assert_eq!(found, gathered.find_leak(&declared, body), "{body}");
            found
        };
        // The second event's body carries the first event's name.
        assert_eq!(
            leak(r#"{"note": "after acme-prod"}"#),
            Some(Leak::Value {
                field: "tenant-control-plane.name"
            })
        );
        // A name that is exactly a status of some event of the batch is let
        // through: the body may carry that status.
        assert_eq!(leak(r#"{"status": "Sleeping"}"#), None);
        assert_eq!(leak(r#"{"status": "Upgrading"}"#), None);
    }
}
