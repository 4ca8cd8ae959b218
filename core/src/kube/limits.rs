//! Bounds on one document: its size, how deeply its values nest, how many
//! items an array holds, and how long a string is.
//!
//! A document past a bound gives [`LimitExceeded`] (as
//! [`DecodeErrorKind::Limit`](super::DecodeErrorKind::Limit)) and the stream
//! goes on with the next document, as after any other bad document.
//!
//! # What is bounded
//!
//! The size counts every byte of the document: the framer stops keeping a
//! document's bytes when it crosses the bound, so a document never costs more
//! than that, however long. The other three bound what the decoder *reads*,
//! the fields it maps onto the contract: the rest of an object is skipped by
//! serde_json without being built, in constant stack space, so it costs no
//! memory and is bounded by the size alone. For YAML, the depth bound is
//! also the parser's own, over every value (see the module docs), and YAML
//! aliases, which would repeat values past all of these, are refused.
//!
//! The checks ride along the one parsing pass (a deserializer adapter, and the
//! YAML parser's budget), so a document within the bounds is read no more
//! often than without them.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The bounds of one document. The defaults let through anything the
/// Kubernetes API server itself accepts, and a 100,000-TCP fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one document may span. 256 MiB: `kubectl get -o json` of
    /// 100,000 TenantControlPlanes is about 100 MB. The same bound holds for
    /// YAML: its parser streams, so a YAML document costs what a JSON one of
    /// its size does (its bytes once, plus what is decoded from them).
    pub max_document_bytes: usize,
    /// How deeply arrays and objects may nest in what is read. 64: an
    /// AdmissionReview's object is read 6 levels down, and serde_json would
    /// stop at 128 anyway, with a less telling error.
    pub max_depth: usize,
    /// Items one array may hold: a List's items, a DataStore's `usedBy`, a
    /// TCP's owner references. 1,000,000: ten times the largest fleet we
    /// measure, while a million empty items already take 7 MB of JSON.
    pub max_items: usize,
    /// Bytes one string may hold, keys included. 256 KiB: the API server
    /// caps all of an object's annotations together at 256 KiB, and labels,
    /// names and versions are far shorter.
    pub max_string_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_document_bytes: 256 << 20,
            max_depth: 64,
            max_items: 1_000_000,
            max_string_bytes: 256 << 10,
        }
    }
}

/// The bound a document went past, with the bound and, where it is known,
/// the document's own figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// A document in a stream is not read past the bound (the rest of it is
    /// skipped unseen), so its size is known only for webhook bodies.
    #[error("the document is larger than the limit of {limit} bytes{}", size_text(*.size))]
    DocumentSize { limit: usize, size: Option<usize> },
    #[error("values nest deeper than the limit of {limit} levels")]
    Depth { limit: usize },
    #[error("an array has more than the limit of {limit} items")]
    Items { limit: usize },
    #[error("a string of {length} bytes is longer than the limit of {limit}")]
    StringLength { limit: usize, length: usize },
    /// Refused outright rather than counted: see [`Limits`].
    #[error(
        "YAML aliases (*name) are refused: Kubernetes never writes them, and each one \
         repeats a whole value, so a small document could expand past every other limit"
    )]
    YamlAlias,
}

fn size_text(size: Option<usize>) -> String {
    size.map(|size| format!(" ({size} bytes)"))
        .unwrap_or_default()
}

impl Limits {
    /// The limits of a value read apart from its document, `depth` levels
    /// down in it: it may nest that much less.
    pub(super) fn nested(&self, depth: usize) -> Limits {
        Limits {
            max_depth: self.max_depth.saturating_sub(depth),
            ..*self
        }
    }

    /// The document-size check for a document whose size is known.
    pub(super) fn check_size(&self, size: usize) -> Result<(), LimitExceeded> {
        if size > self.max_document_bytes {
            return Err(LimitExceeded::DocumentSize {
                limit: self.max_document_bytes,
                size: Some(size),
            });
        }
        Ok(())
    }
}

/// Where the adapter records the bound it stopped at: serde's errors carry
/// only text, and the caller wants the typed [`LimitExceeded`].
#[derive(Debug, Default)]
pub(super) struct Tripped(Cell<Option<LimitExceeded>>);

impl Tripped {
    pub fn take(&self) -> Option<LimitExceeded> {
        self.0.take()
    }

    fn error<E: de::Error>(&self, exceeded: LimitExceeded) -> E {
        self.0.set(Some(exceeded));
        E::custom(exceeded)
    }
}

/// What every level of the adapter carries.
#[derive(Clone, Copy)]
struct State<'l> {
    limits: &'l Limits,
    tripped: &'l Tripped,
    depth: usize,
}

impl State<'_> {
    /// One level deeper, or the depth error.
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= self.limits.max_depth {
            let limit = self.limits.max_depth;
            return Err(self.tripped.error(LimitExceeded::Depth { limit }));
        }
        Ok(Self {
            depth: self.depth + 1,
            ..self
        })
    }

    fn check_string<E: de::Error>(self, text: &str) -> Result<(), E> {
        let limit = self.limits.max_string_bytes;
        if text.len() > limit {
            let length = text.len();
            return Err(self
                .tripped
                .error(LimitExceeded::StringLength { limit, length }));
        }
        Ok(())
    }
}

/// Deserializes `seed` from `deserializer` within `limits`; when a bound is
/// passed, `tripped` says which.
pub(super) fn deserialize_within<'de, S, D>(
    seed: S,
    deserializer: D,
    limits: &Limits,
    tripped: &Tripped,
) -> Result<S::Value, D::Error>
where
    S: DeserializeSeed<'de>,
    D: Deserializer<'de>,
{
    let state = State {
        limits,
        tripped,
        depth: 0,
    };
    seed.deserialize(Limited {
        inner: deserializer,
        state,
    })
}

/// A deserializer that checks every value it hands out against the limits.
struct Limited<'l, D> {
    inner: D,
    state: State<'l>,
}

/// Forwards `deserialize_*` methods to the inner deserializer, with the
/// visitor wrapped so that what it visits is checked.
macro_rules! forward_limited {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
            let visitor = LimitedVisitor { inner: visitor, state: self.state };
            self.inner.$method($($($arg,)*)? visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<'_, D> {
    type Error = D::Error;

    forward_limited! {
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32,
        deserialize_u64, deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
        deserialize_str, deserialize_string, deserialize_bytes, deserialize_byte_buf,
        deserialize_option, deserialize_unit, deserialize_seq, deserialize_map,
        deserialize_identifier,
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    /// What is skipped is not built, so it is not checked (see module docs).
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

struct LimitedVisitor<'l, V> {
    inner: V,
    state: State<'l>,
}

/// Forwards scalar `visit_*` methods, which no limit concerns.
macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for LimitedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char),
        visit_bytes(&[u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<V::Value, E> {
        self.state.check_string(value)?;
        self.inner.visit_str(value)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<V::Value, E> {
        self.state.check_string(value)?;
        self.inner.visit_borrowed_str(value)
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<V::Value, E> {
        self.state.check_string(&value)?;
        self.inner.visit_string(value)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        let state = self.state;
        self.inner.visit_some(Limited { inner, state })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        let state = self.state;
        self.inner.visit_newtype_struct(Limited { inner, state })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let state = self.state.nested()?;
        self.inner.visit_seq(LimitedAccess {
            inner: seq,
            state,
            items: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let state = self.state.nested()?;
        self.inner.visit_map(LimitedAccess {
            inner: map,
            state,
            items: 0,
        })
    }

    /// The contract's shapes have no enums; one is passed through unchecked.
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// The elements of an array or the entries of an object, one level down.
struct LimitedAccess<'l, A> {
    inner: A,
    state: State<'l>,
    items: usize,
}

/// A seed whose value is deserialized within the limits.
struct LimitedSeed<'l, S> {
    inner: S,
    state: State<'l>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for LimitedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        let state = self.state;
        self.inner.deserialize(Limited { inner, state })
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for LimitedAccess<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let state = self.state;
        let element = self
            .inner
            .next_element_seed(LimitedSeed { inner: seed, state })?;
        if element.is_some() {
            self.items += 1;
            if self.items > state.limits.max_items {
                let limit = state.limits.max_items;
                return Err(state.tripped.error(LimitExceeded::Items { limit }));
            }
        }
        Ok(element)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for LimitedAccess<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let state = self.state;
        self.inner.next_key_seed(LimitedSeed { inner: seed, state })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let state = self.state;
        self.inner
            .next_value_seed(LimitedSeed { inner: seed, state })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}
