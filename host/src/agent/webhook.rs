//! The agent's HTTP interface.
//!
//! - `POST /telemetry` (`--events webhook` only): the validating admission
//!   webhook. AdmissionReview v1 in and out; it always allows, and answers as
//!   soon as the event is decoded and handed to the intake, before any plugin
//!   or network work.
//! - `POST /v1/fleet`: a fleet snapshot for the heartbeat.
//! - `GET /metrics`, `GET /healthz`, `GET /readyz` (with `--events watch`,
//!   ready once both watches have synced while telemetry is on).
//!
//! The bodies of both POSTs are read within a memory budget per route
//! ([`BodyBudget`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::body_budget::{self, BodyBudget};
use super::heartbeat::{self, FleetInbox};
use super::intake::Intake;
use super::metrics::{self, Metrics, Queue, Review};
use super::outbox::Outbox;
use super::switch::Switch;
use crate::cluster::ClusterHealth;
use crate::kube;

/// The API server sends the object before and after the change: two objects
/// under etcd's 1.5 MiB limit, plus the review around them.
const ADMISSION_BODY_LIMIT: usize = 8 << 20;

/// A `kubectl get -o json` list of a large fleet; `--fleet-file` has no limit.
const FLEET_BODY_LIMIT: usize = 256 << 20;

/// What webhook bodies may hold at once (see [`BodyBudget`]): eight of the
/// largest, or thousands of real ones (a few KB each). Apart from the
/// fleet's, so that fleet posts never cost an admission its event.
const ADMISSION_BODIES_IN_FLIGHT: usize = 64 << 20;

/// What fleet bodies may hold at once: one of the largest. A snapshot is
/// posted every few minutes by one watcher; more at once is a mistake or an
/// attack, and waits its turn (429).
const FLEET_BODIES_IN_FLIGHT: usize = FLEET_BODY_LIMIT;

/// What `/healthz` and `/readyz` report.
#[derive(Debug)]
pub struct Health {
    /// The plugin worker is running (or there is none: telemetry is off).
    pub worker_alive: Arc<AtomicBool>,
    /// Shutdown has begun: not ready any more.
    pub stopping: AtomicBool,
}

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub intake: Intake,
    /// `None` when the snapshot comes from `--fleet-file` or the cluster.
    pub fleet: Option<Arc<FleetInbox>>,
    /// `POST /telemetry` is served (`--events webhook`).
    pub webhook: bool,
    /// The watches and the election, with `--events watch` and telemetry
    /// not off for good.
    pub cluster: Option<Arc<ClusterHealth>>,
    /// `None` when telemetry is off for good: nothing is ever queued.
    pub outbox: Option<Arc<Outbox>>,
    /// Whether telemetry is on, and what holds it off: `/readyz` says so.
    pub switch: Arc<Switch>,
    pub metrics: Arc<Metrics>,
    pub health: Health,
}

pub fn router(state: Arc<AppState>) -> Router {
    let router = if state.webhook {
        Router::new().route(
            "/telemetry",
            post(admission)
                .layer(DefaultBodyLimit::max(ADMISSION_BODY_LIMIT))
                .layer(from_fn_with_state(
                    BodyBudget::new(ADMISSION_BODIES_IN_FLIGHT, ADMISSION_BODY_LIMIT),
                    body_budget::within_budget,
                )),
        )
    } else {
        Router::new()
    };
    router
        .route(
            "/v1/fleet",
            post(fleet)
                .layer(DefaultBodyLimit::max(FLEET_BODY_LIMIT))
                .layer(from_fn_with_state(
                    BodyBudget::new(FLEET_BODIES_IN_FLIGHT, FLEET_BODY_LIMIT),
                    body_budget::within_budget,
                )),
        )
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn admission(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let admission = match kube::decode_admission_review(&body) {
        Ok(admission) => admission,
        Err(error) => {
            state.metrics.webhook_review(Review::Invalid);
            let message = format!("not an AdmissionReview v1: {error}");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    match admission.event {
        Ok(event) => {
            state.metrics.webhook_review(Review::Event);
            state.intake.submit(event);
        }
        Err(reason) => {
            state.metrics.webhook_review(Review::NoEvent);
            tracing::debug!(uid = %admission.uid, "admission review with no event: {reason}");
        }
    }
    axum::Json(allow(&admission.uid)).into_response()
}

/// The answer that lets the request through, whatever it was.
fn allow(uid: &str) -> serde_json::Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": true},
    })
}

async fn fleet(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(inbox) = &state.fleet else {
        let message = "fleet snapshots come from --fleet-file or the cluster on this agent";
        return (StatusCode::CONFLICT, message).into_response();
    };
    // A large fleet takes a while to decode: off the async threads.
    let decoded = tokio::task::spawn_blocking(move || heartbeat::decode_fleet(&body)).await;
    match decoded {
        Ok(Ok(fleet)) => {
            let counts = json!({
                "tenant_control_planes": fleet.tenant_control_planes.len(),
                "data_stores": fleet.data_stores.len(),
            });
            inbox.put(fleet);
            (StatusCode::ACCEPTED, axum::Json(counts)).into_response()
        }
        Ok(Err(error)) => (
            StatusCode::BAD_REQUEST,
            format!("not a fleet snapshot: {error}"),
        )
            .into_response(),
        Err(crash) => {
            tracing::error!("decoding a fleet snapshot crashed: {crash}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let payloads = match &state.outbox {
        Some(outbox) => outbox.depth().await,
        None => 0,
    };
    state.metrics.set_queue_depth(Queue::Payloads, payloads);
    state
        .metrics
        .set_queue_depth(Queue::Events, state.intake.depth());
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!("cannot encode the metrics: {error}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.health.worker_alive.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the plugin worker has stopped\n",
        )
            .into_response()
    }
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.health.stopping.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    if let Some(cluster) = &state.cluster
        && state.intake.is_on()
        && !cluster.is_synced()
    {
        let message =
            "the watches of tenantcontrolplanes and datastores have not synced: see the logs\n";
        return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
    }
    if !state.health.worker_alive.load(Ordering::Relaxed) {
        return healthz(State(state)).await;
    }
    // Ready either way: an agent held off still answers webhooks and probes.
    // The text says what holds telemetry off, one line per source.
    let mut text = String::from("ok\n");
    for (source, hold) in state.switch.holding_off() {
        text.push_str(&format!("telemetry is off ({source}): {hold}\n"));
    }
    (StatusCode::OK, text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_allows_and_echoes_the_uid() {
        assert_eq!(
            allow("705ab4f5"),
            json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": "705ab4f5", "allowed": true}
            })
        );
    }
}
