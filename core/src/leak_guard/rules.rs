//! The matching rule of the module docs: whether one identifying string is
//! in a body, and which body strings the plugin's declared words let through.

use std::collections::HashSet;

use super::index::BodyIndex;
use crate::model::Description;

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

/// One body searched for one event's identifying strings. What only some
/// searches need is built on first use.
pub(super) struct Search<'i> {
    index: &'i BodyIndex,
    /// The body's strings, for short identifying strings (rule 3).
    whole_strings: Option<HashSet<&'i [u8]>>,
    /// The event's non-identifying values, lower-cased (rule 4).
    exempt: Option<HashSet<String>>,
    /// The identifying string being looked for, lower-cased.
    needle: String,
}

impl<'i> Search<'i> {
    pub(super) fn of(index: &'i BodyIndex) -> Self {
        Search {
            index,
            whole_strings: None,
            exempt: None,
            needle: String::new(),
        }
    }

    pub(super) fn finds(&mut self, value: &str, exempt: impl FnOnce() -> HashSet<String>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_those_with_fewer_than_three_letters_or_digits() {
        for value in ["", "1", "v1", "a-b", "--", "é1"] {
            assert!(is_short(value), "{value}");
        }
        for value in ["abc", "v1.3", "1.30.2", "a-b-c", "ééé"] {
            assert!(!is_short(value), "{value}");
        }
    }
}
