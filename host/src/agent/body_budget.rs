//! A bound on the memory that request bodies take while they are read and
//! decoded, over all the requests of a route together.
//!
//! Each body is read before its handler runs, one chunk at a time, and every
//! chunk takes its bytes from the route's budget first (all of them at once,
//! before any is read, when the request says its `Content-Length`). The bytes
//! go back when the handler has answered, decoding included. So however many
//! clients post at once, the bodies in flight never hold more than the budget.
//!
//! Past the budget the answer is **429 Too Many Requests**, with
//! `Retry-After`: the request itself is fine, and the same body is accepted
//! once the others are done, so the client should retry, later. A body over
//! the route's own limit gets 413, which no retry will change; one that does
//! not arrive within [`BODY_READ_TIMEOUT`] gets 408, so that a client that
//! trickles its body cannot hold its share of the budget for ever.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a whole body may take to arrive.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The bytes that one route's bodies may hold at once, and the most that one
/// body may hold.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    per_request: usize,
}

/// Why a body was not taken.
enum BodyRefused {
    TooLarge,
    OverBudget,
    TooSlow,
    Broken(axum::Error),
}

impl BodyBudget {
    /// `total` is at least `per_request`, so that one body of any allowed
    /// size can always get in.
    pub fn new(total: usize, per_request: usize) -> Self {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total.max(per_request))),
            per_request,
        }
    }

    /// Takes `bytes` more from the budget, into `held`.
    fn take(
        &self,
        held: &mut Option<OwnedSemaphorePermit>,
        bytes: usize,
    ) -> Result<(), BodyRefused> {
        let Ok(count) = u32::try_from(bytes) else {
            return Err(BodyRefused::TooLarge);
        };
        let permit = Arc::clone(&self.bytes)
            .try_acquire_many_owned(count)
            .map_err(|_| BodyRefused::OverBudget)?;
        match held {
            Some(held) => held.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }

    /// Reads `body` whole within the budget; the permit holds its bytes.
    async fn read(&self, body: Body, declared: Option<usize>) -> Result<Held, BodyRefused> {
        let mut held = None;
        if let Some(length) = declared {
            if length > self.per_request {
                return Err(BodyRefused::TooLarge);
            }
            self.take(&mut held, length)?;
        }
        let mut taken = declared.unwrap_or(0);
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(BodyRefused::Broken)?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            if bytes.len() + chunk.len() > self.per_request {
                return Err(BodyRefused::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
            // A body longer than it said takes the rest as it comes.
            if bytes.len() > taken {
                self.take(&mut held, bytes.len() - taken)?;
                taken = bytes.len();
            }
        }
        Ok(Held {
            body: Bytes::from(bytes),
            _permit: held,
        })
    }
}

/// A body read whole, and its share of the budget.
struct Held {
    body: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Middleware: reads the body within the route's budget, then runs the
/// handler on it, holding the body's share until the answer is built.
pub async fn within_budget(
    State(budget): State<BodyBudget>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, budget.read(body, declared)).await;
    let held = match read {
        Ok(Ok(held)) => held,
        Ok(Err(refusal)) => return refused(refusal, budget.per_request),
        Err(_) => return refused(BodyRefused::TooSlow, budget.per_request),
    };
    let request = Request::from_parts(parts, Body::from(held.body.clone()));
    let response = next.run(request).await;
    drop(held);
    response
}

fn refused(refusal: BodyRefused, per_request: usize) -> Response {
    match refusal {
        BodyRefused::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {per_request} bytes"),
        )
            .into_response(),
        BodyRefused::OverBudget => {
            tracing::warn!("request bodies in flight are at their memory budget: 429");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "too many request bodies in flight: retry later",
            )
                .into_response()
        }
        BodyRefused::TooSlow => (
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {}s",
                BODY_READ_TIMEOUT.as_secs()
            ),
        )
            .into_response(),
        BodyRefused::Broken(error) => (
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {error}"),
        )
            .into_response(),
    }
}
