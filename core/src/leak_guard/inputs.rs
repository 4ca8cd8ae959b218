//! The input strings a body is searched for: every string of the events a
//! plugin was shown and of the installation, identifying or not.

use std::collections::HashSet;
use std::ops::ControlFlow;

use super::rules::{DeclaredWords, Search};
use super::{Leak, index_of};
use crate::classified::{Class, Classified};
use crate::model::{Event, Installation};

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

    /// [`find_leak`](super::find_leak) of `body` against these inputs.
    pub fn find_leak(&self, declared: &DeclaredWords, body: &str) -> Option<Leak> {
        let index = match index_of(body, declared) {
            Ok(index) => index,
            Err(not_json) => return Some(not_json),
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

pub(super) fn non_identifying_values(
    events: &[Event],
    installation: &Installation,
) -> HashSet<String> {
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
pub(super) enum Input<'a> {
    /// Identifying, with its field's path.
    Identifying(&'static str, &'a str),
    /// Not identifying: a value that may flow into bodies as it is.
    NonIdentifying(&'a str),
}

/// Calls `visit` with every string of the input, until it breaks. Which
/// strings identify is the model's one classification
/// ([`crate::classified`]), which withholding reads too.
pub(super) fn for_each_input<'a, B>(
    events: &'a [Event],
    installation: &'a Installation,
    visit: &mut impl FnMut(Input<'a>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    let mut classify = |class: Class, value: &'a str| match class.identifying() {
        Some(field) => visit(Input::Identifying(field, value)),
        None => visit(Input::NonIdentifying(value)),
    };
    installation.each_string(Class::STRUCTURE, &mut classify)?;
    events
        .iter()
        .try_for_each(|event| event.each_string(Class::STRUCTURE, &mut classify))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classified::filled;
    use crate::model::Fleet;

    /// The identifying fields, and the values that exempt them, written out
    /// here rather than read from the classification, so that a field
    /// classified wrongly, or a path renamed, fails this test.
    #[test]
    fn every_field_is_gathered_as_identifying_under_its_path_or_as_exempt() {
        let events = [
            Event::Created(filled::tenant_control_plane("")),
            Event::Heartbeat(Fleet {
                tenant_control_planes: Vec::new(),
                data_stores: vec![filled::data_store()],
            }),
        ];
        let installation = filled::installation();
        let inputs = BatchInputs::of(&events, &installation);
        assert_eq!(
            inputs.identifying,
            [
                ("installation.cluster-uid", "cluster-uid"),
                ("tenant-control-plane.name", "name"),
                ("tenant-control-plane.namespace", "namespace"),
                ("tenant-control-plane.uid", "uid"),
                ("tenant-control-plane.labels", "label-key"),
                ("tenant-control-plane.labels", "label-value"),
                ("tenant-control-plane.annotations", "annotation-key"),
                ("tenant-control-plane.annotations", "annotation-value"),
                ("tenant-control-plane.owner-references.name", "owner-name"),
                ("tenant-control-plane.owner-references.uid", "owner-uid"),
                ("tenant-control-plane.ingress.hostname", "ingress-hostname"),
                ("tenant-control-plane.gateway.hostname", "gateway-hostname"),
                ("tenant-control-plane.network-address", "network-address"),
                ("tenant-control-plane.endpoint", "endpoint"),
                ("tenant-control-plane.data-store", "data-store"),
                ("data-store.name", "store-name"),
                ("data-store.used-by", "store-user"),
            ]
        );
        assert_eq!(
            inputs.non_identifying,
            [
                "kamaji-version",
                "kubernetes-version",
                "owner-api-version",
                "owner-kind",
                "desired-version",
                "installed-version",
                "status",
                "service-type",
                "ingress-class",
                "store-driver",
            ]
        );
    }
}
