//! Delivery of one payload: the attempts, what each answer means, and the
//! retries between them.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode, Url};
use tokio::time::Instant;

use super::http_client::Transport;
use super::retry::{full_jitter, is_retryable_status, parse_retry_after};
use super::stats::Counter;

/// How the delivery of one payload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server accepted it (2xx).
    Sent { attempts: u32 },
    /// The server refused it with a status that retrying cannot fix.
    /// `detail` is the start of the response body, bounded and made printable.
    Rejected {
        attempts: u32,
        status: StatusCode,
        detail: String,
    },
    /// Retrying stopped: the budget was spent, or the error was not retryable.
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last_error: Failure,
    },
    /// Telemetry was switched off between two attempts: no more were made.
    Abandoned { attempts: u32 },
}

impl Delivery {
    /// Requests made for this payload.
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Sent { attempts }
            | Self::Rejected { attempts, .. }
            | Self::GaveUp { attempts, .. }
            | Self::Abandoned { attempts } => *attempts,
        }
    }

    /// Requests made after the first one.
    pub fn retries(&self) -> u32 {
        self.attempts().saturating_sub(1)
    }

    fn counter(&self) -> Counter {
        match self {
            Self::Sent { .. } => Counter::Sent,
            Self::Rejected { .. } => Counter::Rejected,
            Self::GaveUp { .. } => Counter::Failed,
            Self::Abandoned { .. } => Counter::DroppedOptOut,
        }
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sent { attempts } => write!(f, "sent ({attempts} attempt(s))"),
            Self::Rejected {
                attempts,
                status,
                detail,
            } => write!(
                f,
                "rejected with {status} ({attempts} attempt(s)): {detail:?}"
            ),
            Self::GaveUp {
                attempts,
                elapsed,
                last_error,
            } => write!(
                f,
                "gave up after {attempts} attempt(s) in {:.1}s: {last_error}",
                elapsed.as_secs_f64()
            ),
            Self::Abandoned { attempts } => write!(
                f,
                "abandoned after {attempts} attempt(s): telemetry was switched off"
            ),
        }
    }
}

/// Why an attempt did not deliver a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A retryable status (429, 502, 503, 504).
    #[error("server answered {status}: {detail:?}")]
    Status { status: StatusCode, detail: String },
    /// The attempt took longer than the configured timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// No usable connection: refused, reset, DNS, TLS, proxy.
    #[error("connection failed: {0}")]
    Connection(String),
    /// Any other client error; not retried, since repeating cannot help.
    #[error("request failed: {0}")]
    Request(String),
}

/// The result of one request.
enum Attempt {
    Delivered,
    Rejected {
        status: StatusCode,
        detail: String,
    },
    Retryable {
        failure: Failure,
        retry_after: Option<Duration>,
    },
    Fatal(Failure),
}

impl Transport {
    /// Delivers one payload to `{endpoint}/{route}`, retrying as the policy
    /// allows, and updates the counters. Never panics and never returns
    /// early: every outcome is a [`Delivery`].
    ///
    /// Dropping the future cancels the delivery; the retries already made stay
    /// counted, the outcome is not.
    pub async fn send(&self, route: &str, body: &[u8]) -> Delivery {
        self.send_unless(route, body, std::future::pending()).await
    }

    /// [`Self::send`], abandoned once `give_up` resolves, but only between
    /// attempts: a request on the wire is let finish, so that one the server
    /// accepts is counted sent, never both delivered and dropped.
    pub async fn send_unless(
        &self,
        route: &str,
        body: &[u8],
        give_up: impl Future<Output = ()>,
    ) -> Delivery {
        let started = Instant::now();
        let delivery = self.deliver(&self.route_url(route), body, give_up).await;
        self.stats.add(delivery.counter(), 1);
        self.stats.observe_delivery(started.elapsed());
        delivery
    }

    async fn deliver(&self, url: &Url, body: &[u8], give_up: impl Future<Output = ()>) -> Delivery {
        tokio::pin!(give_up);
        let started = Instant::now();
        let mut attempts: u32 = 0;
        let last_error = loop {
            attempts = attempts.saturating_add(1);
            match self.attempt(url, body).await {
                Attempt::Delivered => return Delivery::Sent { attempts },
                Attempt::Rejected { status, detail } => {
                    return Delivery::Rejected {
                        attempts,
                        status,
                        detail,
                    };
                }
                Attempt::Fatal(failure) => break failure,
                Attempt::Retryable {
                    failure,
                    retry_after,
                } => {
                    let Some(wait) = self.plan_retry(attempts - 1, retry_after, started.elapsed())
                    else {
                        break failure;
                    };
                    tokio::select! {
                        biased;
                        () = &mut give_up => return Delivery::Abandoned { attempts },
                        () = tokio::time::sleep(wait) => {}
                    }
                    self.stats.add(Counter::Retried, 1);
                }
            }
        };
        Delivery::GaveUp {
            attempts,
            elapsed: started.elapsed(),
            last_error,
        }
    }

    /// The wait before retry number `retry_index`, or `None` if out of budget.
    /// Kept synchronous: the thread-local RNG must not live across an await.
    fn plan_retry(
        &self,
        retry_index: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        let ceiling = self.retry.backoff_ceiling(retry_index);
        let jittered = full_jitter(ceiling, &mut rand::rng());
        self.retry.next_wait(jittered, retry_after, elapsed)
    }

    async fn attempt(&self, url: &Url, body: &[u8]) -> Attempt {
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        match request.send().await {
            Ok(response) => self.judge(response).await,
            Err(error) => classify_error(&error),
        }
    }

    /// Reads at most the body limit, even on success: a small body read to its
    /// end lets the connection go back to the pool for the next payload.
    async fn judge(&self, response: Response) -> Attempt {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let detail = read_bounded(response, self.response_body_limit).await;
        if status.is_success() {
            Attempt::Delivered
        } else if is_retryable_status(status.as_u16()) {
            Attempt::Retryable {
                failure: Failure::Status { status, detail },
                retry_after,
            }
        } else {
            Attempt::Rejected { status, detail }
        }
    }
}

fn classify_error(error: &reqwest::Error) -> Attempt {
    let text = with_causes(error);
    let failure = if error.is_timeout() {
        Failure::Timeout(text)
    } else if error.is_connect() || error.is_request() || error.is_body() {
        // `is_request` covers a connection closed or reset mid-exchange.
        Failure::Connection(text)
    } else {
        return Attempt::Fatal(Failure::Request(text));
    };
    Attempt::Retryable {
        failure,
        retry_after: None,
    }
}

/// The error and its causes on one line: reqwest's own message alone says
/// "error sending request", the useful part ("Connection refused") is deeper.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Reads the body up to `limit` bytes and drops the rest unread, so a huge or
/// endless body costs at most `limit` bytes. Read errors end the read: the
/// status already tells what happened.
async fn read_bounded(mut response: Response, limit: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        let Ok(Some(chunk)) = response.chunk().await else {
            break;
        };
        let room = limit - bytes.len();
        bytes.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
    }
    printable(&bytes)
}

/// The body comes from the network: make it safe to put in a log line.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}
