//! `kamaji:telemetry@0.2.0` (`wit/0.2.0`): declared inputs and routes,
//! events in batches, typed errors.

use wasmtime::Store;

use super::Answer;
use crate::model;
use crate::plugin::sandbox::Sandbox;

wasmtime::component::bindgen!({
    path: "../wit/0.2.0",
    world: "telemetry-plugin",
});

use kamaji::telemetry::types as wit;

pub(super) fn describe(
    plugin: &TelemetryPlugin,
    store: &mut Store<Sandbox>,
) -> wasmtime::Result<model::Description> {
    let description = plugin.kamaji_telemetry_plugin().call_describe(store)?;
    Ok(model::Description {
        name: description.name,
        version: description.version,
        wire_schema: description.wire_schema,
        fields: description.fields.into_iter().map(field_doc).collect(),
        reads: lift_input_fields(description.reads),
        routes: Some(description.routes.into_iter().map(lift_route).collect()),
    })
}

pub(super) fn handle_batch(
    plugin: &TelemetryPlugin,
    store: &mut Store<Sandbox>,
    installation: &model::Installation,
    events: &[model::Event],
) -> wasmtime::Result<Vec<Answer>> {
    let events: Vec<wit::Event> = events.iter().map(lower_event).collect();
    let answers = plugin.kamaji_telemetry_plugin().call_handle_batch(
        store,
        &lower_installation(installation),
        &events,
    )?;
    Ok(answers
        .into_iter()
        .map(|answer| {
            answer
                .map(|payload| payload.map(lift_payload))
                .map_err(lift_error)
        })
        .collect())
}

/// The count is always given. The entries are only those the plugin was
/// shown: withheld ones reach this adapter as empty strings (see
/// `DataStore::withhold`), and a real `namespace/name` is never empty.
fn lower_data_store(store: &model::DataStore) -> wit::DataStore {
    wit::DataStore {
        name: store.name.clone(),
        driver: store.driver.clone(),
        used_by: store
            .used_by
            .iter()
            .filter(|user| !user.is_empty())
            .cloned()
            .collect(),
        used_by_count: u32::try_from(store.used_by.len()).unwrap_or(u32::MAX),
    }
}

fn lift_error(error: wit::PluginError) -> model::PluginError {
    match error {
        wit::PluginError::MalformedInput(message) => model::PluginError::MalformedInput(message),
        wit::PluginError::UnsupportedEvent(message) => {
            model::PluginError::UnsupportedEvent(message)
        }
        wit::PluginError::Internal(message) => model::PluginError::Internal(message),
    }
}

fn lift_input_fields(reads: wit::InputFields) -> model::InputFields {
    use model::InputFields as Model;
    use wit::InputFields as Wit;
    [
        (Wit::CLUSTER_UID, Model::CLUSTER_UID),
        (Wit::VERSIONS, Model::VERSIONS),
        (Wit::STATUS, Model::STATUS),
        (Wit::EXPOSURE, Model::EXPOSURE),
        (Wit::IDENTITY, Model::IDENTITY),
        (Wit::LABELS, Model::LABELS),
        (Wit::ANNOTATIONS, Model::ANNOTATIONS),
        (Wit::OWNER_KINDS, Model::OWNER_KINDS),
        (Wit::OWNER_IDENTITY, Model::OWNER_IDENTITY),
        (Wit::ADDRESSES, Model::ADDRESSES),
        (Wit::DATA_STORE_NAMES, Model::DATA_STORE_NAMES),
        (Wit::DRIVERS, Model::DRIVERS),
        (Wit::USED_BY, Model::USED_BY),
    ]
    .into_iter()
    .filter(|(wit, _)| reads.contains(*wit))
    .fold(Model::empty(), |reads, (_, group)| reads | group)
}

super::conversions!();
