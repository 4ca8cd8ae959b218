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
//!
//! # Where things are
//!
//! [`find_leak`] and [`Leak`] are here; the rest lives in three parts, one
//! for each question a newcomer asks of a leak: `inputs` gathers what the
//! body is searched for (the identifying strings of the events and the
//! installation, and the values that exempt them), `rules` decides whether
//! one of them is in the body (rules 3 and 4 above), and `index` holds the
//! body's strings by trigram so that deciding is cheap.

mod index;
mod inputs;
mod rules;

pub use inputs::BatchInputs;
pub use rules::DeclaredWords;

use std::ops::ControlFlow;

use index::BodyIndex;
use inputs::{Input, for_each_input, non_identifying_values};
use rules::Search;

use crate::model::{Event, Installation};

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

/// The body's strings, indexed; a body that is not JSON has none, and is
/// blocked, since its strings cannot be told apart.
fn index_of(body: &str, declared: &DeclaredWords) -> Result<BodyIndex, Leak> {
    BodyIndex::new(body, declared).map_err(|error| Leak::NotJson {
        line: error.line(),
        column: error.column(),
    })
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
    let index = match index_of(body, declared) {
        Ok(index) => index,
        Err(not_json) => return Some(not_json),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fleet, TenantControlPlane};

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
