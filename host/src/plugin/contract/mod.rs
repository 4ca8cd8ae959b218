//! The versions of the plugin contract this host speaks, one module each.
//!
//! Each module (`v0_1_0`, `v0_2_0`) generates the bindings of its own frozen
//! WIT folder and converts between them and the host's model, so nothing
//! else in the host sees a generated type. A component's version is read off
//! the world it exports: it must match exactly one supported version, or it
//! is refused with the versions it offered and the ones this host speaks.

use wasmtime::Store;
use wasmtime::component::InstancePre;

mod v0_1_0;
mod v0_2_0;

use super::contract_version::{ContractVersion, PLUGIN_INTERFACE};
use super::error::LoadError;
use super::sandbox::Sandbox;
use crate::model::{Description, Event, Installation, Payload, PluginError};

/// The contract version a component implements, read off its export names.
pub(crate) fn detect<'a>(
    exports: impl IntoIterator<Item = &'a str>,
) -> Result<ContractVersion, LoadError> {
    let exports: Vec<&str> = exports.into_iter().collect();
    let offered: Vec<&str> = exports
        .iter()
        .filter_map(|name| name.strip_prefix(PLUGIN_INTERFACE)?.strip_prefix('@'))
        .collect();
    let mut matches: Vec<ContractVersion> = offered
        .iter()
        .filter_map(|version| ContractVersion::compatible_with(version))
        .collect();
    matches.dedup();
    match (matches.as_slice(), offered.as_slice()) {
        ([version], _) => Ok(*version),
        ([], []) => Err(LoadError::WrongWorld {
            exports: exports.join(", "),
        }),
        ([], offered) => Err(LoadError::IncompatibleContract {
            found: offered.join(", "),
        }),
        (several, _) => Err(LoadError::AmbiguousContract {
            found: several
                .iter()
                .map(|version| version.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A component linked and checked against one contract version, ready to
/// instantiate.
pub(crate) enum ContractPre {
    V0_1_0(v0_1_0::TelemetryPluginPre<Sandbox>),
    V0_2_0(v0_2_0::TelemetryPluginPre<Sandbox>),
}

/// One instance of a plugin, of whichever version.
pub(crate) enum ContractInstance {
    V0_1_0(v0_1_0::TelemetryPlugin),
    V0_2_0(v0_2_0::TelemetryPlugin),
}

/// One answer of a plugin: a payload, nothing, or why not.
pub(crate) type Answer = Result<Option<Payload>, PluginError>;

impl ContractPre {
    /// Checks that the component's exports have the types of `version`.
    pub(crate) fn new(
        version: ContractVersion,
        instance_pre: InstancePre<Sandbox>,
    ) -> wasmtime::Result<Self> {
        Ok(match version {
            ContractVersion::V0_1_0 => Self::V0_1_0(v0_1_0::TelemetryPluginPre::new(instance_pre)?),
            ContractVersion::V0_2_0 => Self::V0_2_0(v0_2_0::TelemetryPluginPre::new(instance_pre)?),
        })
    }

    pub(crate) fn version(&self) -> ContractVersion {
        match self {
            Self::V0_1_0(_) => ContractVersion::V0_1_0,
            Self::V0_2_0(_) => ContractVersion::V0_2_0,
        }
    }

    pub(crate) fn instantiate(
        &self,
        store: &mut Store<Sandbox>,
    ) -> wasmtime::Result<ContractInstance> {
        Ok(match self {
            Self::V0_1_0(pre) => ContractInstance::V0_1_0(pre.instantiate(store)?),
            Self::V0_2_0(pre) => ContractInstance::V0_2_0(pre.instantiate(store)?),
        })
    }
}

impl ContractInstance {
    pub(crate) fn describe(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<Description> {
        match self {
            Self::V0_1_0(plugin) => v0_1_0::describe(plugin, store),
            Self::V0_2_0(plugin) => v0_2_0::describe(plugin, store),
        }
    }

    /// One answer per event, in order. A plugin of a contract without
    /// batches is called once per event, all in this one instance.
    pub(crate) fn handle_batch(
        &self,
        store: &mut Store<Sandbox>,
        installation: &Installation,
        events: &[Event],
    ) -> wasmtime::Result<Vec<Answer>> {
        match self {
            Self::V0_1_0(plugin) => v0_1_0::handle_batch(plugin, store, installation, events),
            Self::V0_2_0(plugin) => v0_2_0::handle_batch(plugin, store, installation, events),
        }
    }
}

/// The conversions that every contract version shares, field for field,
/// between the host's model and the types a version's `bindgen!` generated
/// (in scope as `wit`). Each version module invokes it, and adds what is its
/// own: how a DataStore is lowered, and how it describes itself.
macro_rules! conversions {
    () => {
        fn lower_installation(installation: &model::Installation) -> wit::Installation {
            wit::Installation {
                cluster_uid: installation.cluster_uid.clone(),
                kamaji_version: installation.kamaji_version.clone(),
                kubernetes_version: installation.kubernetes_version.clone(),
            }
        }

        fn lower_event(event: &model::Event) -> wit::Event {
            match event {
                model::Event::Created(tcp) => wit::Event::Created(lower_tcp(tcp)),
                model::Event::Updated(update) => wit::Event::Updated(wit::TcpUpdate {
                    previous: lower_tcp(&update.previous),
                    current: lower_tcp(&update.current),
                }),
                model::Event::Deleted(tcp) => wit::Event::Deleted(lower_tcp(tcp)),
                model::Event::Heartbeat(fleet) => wit::Event::Heartbeat(wit::Fleet {
                    tenant_control_planes: fleet
                        .tenant_control_planes
                        .iter()
                        .map(lower_tcp)
                        .collect(),
                    data_stores: fleet.data_stores.iter().map(lower_data_store).collect(),
                }),
            }
        }

        fn lower_tcp(tcp: &model::TenantControlPlane) -> wit::TenantControlPlane {
            wit::TenantControlPlane {
                name: tcp.name.clone(),
                namespace: tcp.namespace.clone(),
                uid: tcp.uid.clone(),
                labels: tcp.labels.iter().map(lower_pair).collect(),
                annotations: tcp.annotations.iter().map(lower_pair).collect(),
                owner_references: tcp
                    .owner_references
                    .iter()
                    .map(|owner| wit::OwnerReference {
                        api_version: owner.api_version.clone(),
                        kind: owner.kind.clone(),
                        name: owner.name.clone(),
                        uid: owner.uid.clone(),
                    })
                    .collect(),
                desired_version: tcp.desired_version.clone(),
                installed_version: tcp.installed_version.clone(),
                status: tcp.status.clone(),
                service_type: tcp.service_type.clone(),
                ingress: tcp.ingress.as_ref().map(|ingress| wit::IngressExposure {
                    hostname: ingress.hostname.clone(),
                    class_name: ingress.class_name.clone(),
                }),
                gateway: tcp.gateway.as_ref().map(|gateway| wit::GatewayExposure {
                    hostname: gateway.hostname.clone(),
                }),
                network_address: tcp.network_address.clone(),
                endpoint: tcp.endpoint.clone(),
                data_store: tcp.data_store.clone(),
            }
        }

        fn lower_pair(pair: &model::KeyValue) -> wit::KeyValue {
            wit::KeyValue {
                key: pair.key.clone(),
                value: pair.value.clone(),
            }
        }

        fn lift_payload(payload: wit::Payload) -> model::Payload {
            model::Payload {
                route: lift_route(payload.route),
                body: payload.body,
                redactions: payload
                    .redactions
                    .into_iter()
                    .map(|redaction| model::Redaction {
                        field: redaction.field,
                        action: match redaction.action {
                            wit::RedactionAction::Dropped => model::RedactionAction::Dropped,
                            wit::RedactionAction::Normalised => model::RedactionAction::Normalised,
                            wit::RedactionAction::Pseudonymised => {
                                model::RedactionAction::Pseudonymised
                            }
                        },
                        reason: redaction.reason,
                    })
                    .collect(),
            }
        }

        fn field_doc(field: wit::FieldDoc) -> model::FieldDoc {
            model::FieldDoc {
                name: field.name,
                route: lift_route(field.route),
                meaning: field.meaning,
                example: field.example,
            }
        }

        fn lift_route(route: wit::Route) -> model::Route {
            match route {
                wit::Route::Stats => model::Route::Stats,
                wit::Route::Create => model::Route::Create,
                wit::Route::Update => model::Route::Update,
                wit::Route::Delete => model::Route::Delete,
            }
        }
    };
}
use conversions;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_must_match_exactly_one_version() {
        let plugin = |version: &str| format!("{PLUGIN_INTERFACE}@{version}");
        assert_eq!(
            detect([plugin("0.2.1").as_str()]).ok(),
            Some(ContractVersion::V0_2_0)
        );
        assert!(matches!(
            detect(["wasi:cli/run@0.2.0"]),
            Err(LoadError::WrongWorld { .. })
        ));
        assert!(matches!(
            detect([plugin("0.9.0").as_str()]),
            Err(LoadError::IncompatibleContract { found }) if found == "0.9.0"
        ));
        let both = [plugin("0.1.0"), plugin("0.2.0")];
        assert!(matches!(
            detect(both.iter().map(String::as_str)),
            Err(LoadError::AmbiguousContract { found }) if found == "0.1.0, 0.2.0"
        ));
    }
}
