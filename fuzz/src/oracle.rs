//! Accounts of a body that do not rely on the leak guard's code.
//!
//! - [`unexpected_body_string`]: every string in a body of the default plugin
//!   must come from a closed grammar (the words the plugin declares, versions
//!   as its normalisers render them, its pseudonym), so that no input string
//!   can be in it whatever the input was.
//! - [`copied_input`]: the leak guard's documented rule, computed the naive
//!   way from the case's own strings, as the reference the guard's indexed
//!   search must agree with.

use std::sync::OnceLock;

use kamaji_telemetry_plugin::versions::{KamajiVersion, KubernetesVersion};
use serde_json::Value;

use crate::checks::component;
use kamaji_telemetry::model::{Event, Installation, TenantControlPlane};

use crate::contract::host;
use crate::model::Case;

/// The words the default plugin declares (the segments of its field names
/// and the words of their meanings), lower-cased and sorted.
pub fn declared_words() -> &'static [String] {
    static WORDS: OnceLock<Vec<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words: Vec<String> = component()
            .declared_words()
            .iter()
            .map(str::to_owned)
            .collect();
        words.sort();
        words
    })
}

fn is_declared(text: &str) -> bool {
    declared_words().binary_search(&text.to_lowercase()).is_ok()
}

/// The first string of `body` that is outside the grammar, if any: a key
/// that is not a declared word, or a value that is neither a declared word,
/// nor a version as the normalisers render it, nor a version 5 UUID other
/// than the cluster UID. A body that is not JSON is returned whole.
pub fn unexpected_body_string(body: &str, cluster_uid: &str) -> Option<String> {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Some(body.to_owned());
    };
    first_unexpected(&value, cluster_uid)
}

fn first_unexpected(value: &Value, cluster_uid: &str) -> Option<String> {
    match value {
        Value::Object(fields) => fields.iter().find_map(|(key, value)| {
            if is_declared(key) {
                first_unexpected(value, cluster_uid)
            } else {
                Some(key.clone())
            }
        }),
        Value::Array(items) => items
            .iter()
            .find_map(|item| first_unexpected(item, cluster_uid)),
        Value::String(text) => (!allowed_value(text, cluster_uid)).then(|| text.clone()),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

fn allowed_value(text: &str, cluster_uid: &str) -> bool {
    is_declared(text)
        || KubernetesVersion::parse(text).to_string() == text
        || KamajiVersion::parse(text).to_string() == text
        || is_pseudonym(text, cluster_uid)
}

/// A version 5 UUID in lowercase hyphenated form that is not the cluster UID
/// in any spelling.
fn is_pseudonym(text: &str, cluster_uid: &str) -> bool {
    let Ok(uuid) = uuid::Uuid::try_parse(text) else {
        return false;
    };
    let raw = uuid::Uuid::try_parse(cluster_uid).ok();
    uuid.get_version_num() == 5 && uuid.hyphenated().to_string() == text && raw != Some(uuid)
}

/// The strings of a case, as the leak guard's rule sorts them.
#[derive(Debug, Default)]
pub struct CaseStrings {
    pub identifying: Vec<String>,
    pub non_identifying: Vec<String>,
}

impl CaseStrings {
    /// The strings of a case, as the host decodes it.
    pub fn of(case: &Case) -> Self {
        Self::of_input(
            &host::installation(&case.installation),
            &host::event(&case.event),
        )
    }

    /// The strings of an installation and an event of the host's model: all
    /// of them, or what a plugin was shown of them.
    pub fn of_input(installation: &Installation, event: &Event) -> Self {
        let mut strings = CaseStrings::default();
        strings.identifying.push(installation.cluster_uid.clone());
        strings.non_identifying.extend([
            installation.kamaji_version.clone(),
            installation.kubernetes_version.clone(),
        ]);
        match event {
            Event::Created(tcp) | Event::Deleted(tcp) => strings.add_tcp(tcp),
            Event::Updated(update) => {
                strings.add_tcp(&update.previous);
                strings.add_tcp(&update.current);
            }
            Event::Heartbeat(fleet) => {
                fleet
                    .tenant_control_planes
                    .iter()
                    .for_each(|tcp| strings.add_tcp(tcp));
                for store in &fleet.data_stores {
                    strings.identifying.push(store.name.clone());
                    strings.identifying.extend(store.used_by.iter().cloned());
                    strings.non_identifying.push(store.driver.clone());
                }
            }
        }
        strings
    }

    fn add_tcp(&mut self, tcp: &TenantControlPlane) {
        self.identifying
            .extend([&tcp.name, &tcp.namespace, &tcp.uid].map(String::clone));
        for pair in tcp.labels.iter().chain(&tcp.annotations) {
            self.identifying
                .extend([pair.key.clone(), pair.value.clone()]);
        }
        for owner in &tcp.owner_references {
            self.identifying
                .extend([owner.name.clone(), owner.uid.clone()]);
            self.non_identifying
                .extend([owner.kind.clone(), owner.api_version.clone()]);
        }
        let hostnames = [
            tcp.ingress
                .as_ref()
                .and_then(|ingress| ingress.hostname.as_ref()),
            tcp.gateway
                .as_ref()
                .and_then(|gateway| gateway.hostname.as_ref()),
        ];
        let addresses = [&tcp.network_address, &tcp.endpoint, &tcp.data_store];
        self.identifying.extend(
            hostnames
                .into_iter()
                .chain(addresses.into_iter().map(Option::as_ref))
                .flatten()
                .cloned(),
        );
        let class = tcp
            .ingress
            .as_ref()
            .and_then(|ingress| ingress.class_name.as_ref());
        let versions = [
            &tcp.desired_version,
            &tcp.installed_version,
            &tcp.status,
            &tcp.service_type,
        ];
        self.non_identifying.extend(
            versions
                .into_iter()
                .map(Option::as_ref)
                .chain([class])
                .flatten()
                .cloned(),
        );
    }
}

/// The first identifying string of the case that `body` carries, by the
/// leak guard's rule (host/src/leak_guard.rs), found the slow, obvious way:
/// every body string against every identifying string.
pub fn copied_input(body: &str, strings: &CaseStrings) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let mut body_strings = Vec::new();
    collect_strings(&value, &mut body_strings);
    body_strings.retain(|text| !is_declared(text));
    let body_strings: Vec<String> = body_strings.iter().map(|s| s.to_lowercase()).collect();
    let exempt: Vec<String> = strings
        .non_identifying
        .iter()
        .map(|value| value.trim().to_lowercase())
        .collect();
    strings
        .identifying
        .iter()
        .map(|value| value.trim().to_lowercase())
        .filter(|needle| !needle.is_empty() && !exempt.contains(needle))
        .find(|needle| body_strings.iter().any(|text| carries(text, needle)))
}

fn collect_strings<'v>(value: &'v Value, into: &mut Vec<&'v str>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                into.push(key);
                collect_strings(value, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, into)),
        Value::String(text) => into.push(text),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether `text` carries `needle`: whole when the needle has fewer than
/// three letters or digits, else as a token.
fn carries(text: &str, needle: &str) -> bool {
    if needle.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
        return text == needle;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || !c.is_ascii());
    // Every place, overlapping ones too: `match_indices` would skip those.
    let places = text.char_indices().map(|(at, _)| at);
    places
        .filter(|&at| text[at..].starts_with(needle))
        .any(|at| {
            let before = text[..at].chars().next_back();
            let after = text[at + needle.len()..].chars().next();
            let joins_before = word(needle.chars().next()) && word(before);
            let joins_after = word(needle.chars().next_back()) && word(after);
            !joins_before && !joins_after
        })
}
