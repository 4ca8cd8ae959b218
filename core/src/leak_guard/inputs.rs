//! The input strings a body is searched for: every string of the events a
//! plugin was shown and of the installation, identifying or not.

use std::collections::HashSet;
use std::ops::ControlFlow;

use super::rules::{DeclaredWords, Search};
use super::{Leak, index_of};
use crate::model::{DataStore, Event, Installation, KeyValue, TenantControlPlane};

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

/// Calls `visit` with every string of the input, until it breaks.
pub(super) fn for_each_input<'a, B>(
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
