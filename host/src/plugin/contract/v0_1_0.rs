//! `kamaji:telemetry@0.1.0` (`wit/0.1.0`): one event per call, no
//! declarations, errors as plain strings.
//!
//! Such a plugin is shown every input field, and may send to any route. A
//! batch is handed to it one event at a time,
//! all in the batch's one instance.

use wasmtime::Store;

use super::Answer;
use crate::model;
use crate::plugin::sandbox::Sandbox;

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
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
        // Without declarations, it is shown everything and may send anywhere.
        reads: model::InputFields::all(),
        routes: None,
    })
}

pub(super) fn handle_batch(
    plugin: &TelemetryPlugin,
    store: &mut Store<Sandbox>,
    installation: &model::Installation,
    events: &[model::Event],
) -> wasmtime::Result<Vec<Answer>> {
    let installation = lower_installation(installation);
    events
        .iter()
        .map(|event| {
            let answer = plugin.kamaji_telemetry_plugin().call_handle(
                &mut *store,
                &installation,
                &lower_event(event),
            )?;
            Ok(answer
                .map(|payload| payload.map(lift_payload))
                .map_err(model::PluginError::Untyped))
        })
        .collect()
}

fn lower_data_store(store: &model::DataStore) -> wit::DataStore {
    wit::DataStore {
        name: store.name.clone(),
        driver: store.driver.clone(),
        used_by: store.used_by.clone(),
    }
}

super::conversions!();
