//! HTTP delivery of telemetry payloads: one `POST {endpoint}/{route}` of a
//! JSON body per payload, with bounded retries and a bounded queue; or, in
//! local mode ([`local_mode`]), a record of each payload instead.
//!
//! - [`Transport`] owns one `reqwest::Client` for its whole life, so that
//!   connections (and TLS sessions) are reused between payloads.
//! - [`Transport::send`] delivers one payload and returns a typed [`Delivery`].
//! - [`DeliveryQueue`] takes payloads without ever blocking the caller and
//!   delivers them from a background task.
//! - [`DeliveryStats`] counts everything, for summaries and metrics.
//!
//! Proxies: the client honours `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
//! `NO_PROXY` (and their lower-case forms) through reqwest's system proxy
//! support, which is on by default; this module never calls `no_proxy()`.
//! Redirects are not followed: a 3xx is reported as a rejection, so a payload
//! never goes anywhere but the configured endpoint.

mod delivery;
mod http_client;
pub mod local_mode;
mod queue;
mod retry;
mod stats;

pub use delivery::{Delivery, Failure};
pub use http_client::{
    ConfigError, DEFAULT_ENDPOINT, DEFAULT_RESPONSE_BODY_LIMIT, Transport, TransportConfig,
};
pub use queue::{DeliveryQueue, Dropped, FlushReport, QueueError, QueueHandle};
pub use retry::RetryPolicy;
pub(crate) use stats::Counter;
pub use stats::{DeliveryStats, StatsSnapshot};
