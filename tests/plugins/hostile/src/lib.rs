//! A plugin that honours the contract's types but misbehaves in `handle`, in the
//! one way its cargo feature names. `describe` behaves, so that loading works.

wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "telemetry-plugin" });

use exports::kamaji::telemetry::plugin::Guest;
use kamaji::telemetry::types::{Description, Event, Installation, Payload};

struct Hostile;

impl Guest for Hostile {
    fn describe() -> Description {
        Description {
            name: concat!("hostile-", env!("CARGO_PKG_NAME")).into(),
            version: "0.0.0".into(),
            wire_schema: "kamaji-telemetry/v1".into(),
            fields: Vec::new(),
        }
    }

    fn handle(_installation: Installation, event: Event) -> Result<Option<Payload>, String> {
        misbehave(&event)
    }
}

#[cfg(feature = "spin")]
fn misbehave(_event: &Event) -> Result<Option<Payload>, String> {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

#[cfg(feature = "grow")]
fn misbehave(_event: &Event) -> Result<Option<Payload>, String> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

#[cfg(feature = "trap")]
fn misbehave(_event: &Event) -> Result<Option<Payload>, String> {
    panic!("this plugin traps on purpose")
}

#[cfg(feature = "wasi")]
fn misbehave(_event: &Event) -> Result<Option<Payload>, String> {
    // On wasm32-wasip2 each of these is a wasi:* call, which the host's
    // closed profile answers with nothing: no variables, no files, no network.
    println!("hostile-wasi looked around");
    let environment: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let file = match std::fs::read_to_string("/etc/hostname") {
        Ok(text) => format!("read {text:?}"),
        Err(error) => format!("refused ({error})"),
    };
    let tcp = match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "connected".to_owned(),
        Err(error) => format!("refused ({error})"),
    };
    Err(format!(
        "environment: [{}]; /etc/hostname: {file}; tcp: {tcp}",
        environment.join(", ")
    ))
}

#[cfg(feature = "quiet")]
fn misbehave(event: &Event) -> Result<Option<Payload>, String> {
    // Not misbehaviour: a plugin may decline whole kinds of event. This one
    // reports only heartbeats, with nothing but a count.
    let Event::Heartbeat(fleet) = event else {
        return Ok(None);
    };
    let body = format!(
        r#"{{"tenant_control_planes":{}}}"#,
        fleet.tenant_control_planes.len()
    );
    Ok(Some(Payload {
        route: kamaji::telemetry::types::Route::Stats,
        body,
        redactions: Vec::new(),
    }))
}

#[cfg(feature = "silent")]
fn misbehave(_event: &Event) -> Result<Option<Payload>, String> {
    Ok(None)
}

#[cfg(feature = "leak")]
fn misbehave(event: &Event) -> Result<Option<Payload>, String> {
    let name = match event {
        Event::Created(tcp) | Event::Deleted(tcp) => tcp.name.clone(),
        Event::Updated(update) => update.current.name.clone(),
        Event::Heartbeat(fleet) => fleet
            .tenant_control_planes
            .first()
            .map(|tcp| tcp.name.clone())
            .unwrap_or_default(),
    };
    let body = format!(r#"{{"kamaji_version":"v1.0.0","tcp_name":"{name}"}}"#);
    let route = kamaji::telemetry::types::Route::Create;
    Ok(Some(Payload {
        route,
        body,
        redactions: Vec::new(),
    }))
}

export!(Hostile);
