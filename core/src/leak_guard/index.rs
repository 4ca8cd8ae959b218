//! The body's strings, indexed by trigram, so that an identifying string is
//! ruled out or found without scanning the whole body (see "Cost" in the
//! module docs).

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::rules::DeclaredWords;

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
pub(super) struct BodyIndex {
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
    pub(super) fn new(body: &str, declared: &DeclaredWords) -> Result<Self, serde_json::Error> {
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
    pub(super) fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.separators
            .windows(2)
            .filter_map(|pair| self.text.get(pair[0] + 1..pair[1]))
    }

    /// False if `value`, in any ASCII case, is certainly not in the body.
    pub(super) fn may_contain(&self, value: &[u8]) -> bool {
        value.len() >= 3
            && trigram_keys(value).all(|key| {
                let bit = seen_bit(key);
                self.seen[bit / 64] & (1 << (bit % 64)) != 0
            })
    }

    /// Whether `needle`, lower-cased and at least three bytes long, occurs in
    /// one of the body's strings as a token (rule 3 of the module docs).
    pub(super) fn contains_token(&self, needle: &[u8]) -> bool {
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
    use crate::model::{Description, FieldDoc, InputFields, Route};

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
}
