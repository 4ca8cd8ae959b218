//! Retry policy: which answers are worth retrying, how long to wait, and when
//! to stop. Pure functions (time and randomness are passed in) so that the
//! rules can be tested without a server or a clock.
//!
//! The rules follow the OTLP/HTTP specification: retry only 429, 502, 503 and
//! 504 (and connection errors, decided by the caller), honour `Retry-After`,
//! otherwise back off exponentially with full jitter, and bound the total time.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Backoff settings. The defaults are the OpenTelemetry SDK's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first wait; doubled after every retry.
    pub initial_backoff: Duration,
    /// The ceiling never grows past this.
    pub max_interval: Duration,
    /// Total time budget for one payload, measured from its first attempt.
    /// A retry whose wait would end past it is not made.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Upper bound of the wait before retry number `retry_index` (0 for the
    /// first retry): `min(max_interval, initial_backoff * 2^retry_index)`.
    pub(crate) fn backoff_ceiling(&self, retry_index: u32) -> Duration {
        1u32.checked_shl(retry_index)
            .and_then(|factor| self.initial_backoff.checked_mul(factor))
            .map_or(self.max_interval, |ceiling| ceiling.min(self.max_interval))
    }

    /// The wait before the next attempt, or `None` when that attempt would
    /// start after the budget is spent.
    ///
    /// A `Retry-After` wait is never shortened (retrying earlier than the
    /// server asked only earns another refusal), so one that does not fit the
    /// remaining budget means giving up now. It is combined with the jittered
    /// backoff by taking the larger, as the OpenTelemetry collector does, so a
    /// server answering `Retry-After: 0` in a loop still gets spaced retries.
    pub(crate) fn next_wait(
        &self,
        jittered_backoff: Duration,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        let wait = retry_after.map_or(jittered_backoff, |asked| asked.max(jittered_backoff));
        let resume_at = elapsed.checked_add(wait)?;
        (resume_at <= self.max_elapsed).then_some(wait)
    }
}

/// Full jitter: a uniformly random wait in `[0, ceiling]`. It spreads the
/// retries of many clusters that failed at the same moment.
pub(crate) fn full_jitter<R: Rng + ?Sized>(ceiling: Duration, rng: &mut R) -> Duration {
    let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=ceiling_nanos))
}

/// Statuses that say "try again later": too many requests, and the three
/// gateway/availability errors. Everything else is final.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (RFC 9110).
/// A date in the past means "now". Anything else is ignored (`None`), and the
/// caller falls back to its own backoff.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits, so a parse failure is an overflow: a wait longer than
        // any budget, which is what saturating gives.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_interval: Duration::from_millis(1_000),
            max_elapsed: Duration::from_secs(10),
        }
    }

    #[test]
    fn defaults_are_the_otel_sdk_ones() {
        let p = RetryPolicy::default();
        assert_eq!(p.initial_backoff, Duration::from_secs(5));
        assert_eq!(p.max_interval, Duration::from_secs(30));
        assert_eq!(p.max_elapsed, Duration::from_secs(60));
    }

    #[test]
    fn retry_after_delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        // The obsolete RFC 850 form is also an HTTP date.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        // A date already past means "retry now", not "ignore".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        let now = SystemTime::now();
        for garbage in ["", "  ", "-1", "1.5", "soon", "10s", "+5", "Sun, 06 Nov"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }

    #[test]
    fn backoff_ceiling_doubles_then_caps() {
        let p = policy();
        let ceilings: Vec<u128> = (0..6).map(|n| p.backoff_ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        // Huge exponents saturate to the cap instead of overflowing.
        assert_eq!(p.backoff_ceiling(31), p.max_interval);
        assert_eq!(p.backoff_ceiling(32), p.max_interval);
        assert_eq!(p.backoff_ceiling(u32::MAX), p.max_interval);
    }

    #[test]
    fn full_jitter_stays_within_bounds_and_spreads() {
        let mut rng = StdRng::seed_from_u64(7);
        let ceiling = Duration::from_millis(400);
        let waits: Vec<Duration> = (0..1_000).map(|_| full_jitter(ceiling, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= ceiling));
        // Full jitter covers the whole range, not just its top.
        assert!(waits.iter().any(|w| *w < ceiling / 4));
        assert!(waits.iter().any(|w| *w > ceiling * 3 / 4));
        assert_eq!(full_jitter(Duration::ZERO, &mut rng), Duration::ZERO);
    }

    #[test]
    fn next_wait_respects_the_budget() {
        let p = policy();
        let jitter = Duration::from_millis(300);
        assert_eq!(p.next_wait(jitter, None, Duration::ZERO), Some(jitter));
        assert_eq!(
            p.next_wait(jitter, None, Duration::from_millis(9_700)),
            Some(jitter)
        );
        assert_eq!(
            p.next_wait(jitter, None, Duration::from_millis(9_701)),
            None
        );
        assert_eq!(p.next_wait(jitter, None, Duration::MAX), None);
    }

    #[test]
    fn next_wait_honours_retry_after() {
        let p = policy();
        let small = Duration::from_millis(50);
        let asked = Duration::from_secs(2);
        assert_eq!(p.next_wait(small, Some(asked), Duration::ZERO), Some(asked));
        // Never shorter than the backoff, even when the server says 0.
        assert_eq!(
            p.next_wait(small, Some(Duration::ZERO), Duration::ZERO),
            Some(small)
        );
        // A Retry-After past the remaining budget: give up rather than retry early.
        assert_eq!(
            p.next_wait(small, Some(asked), Duration::from_secs(9)),
            None
        );
        assert_eq!(
            p.next_wait(small, Some(Duration::from_secs(u64::MAX)), Duration::ZERO),
            None
        );
    }

    #[test]
    fn only_throttling_and_gateway_statuses_are_retryable() {
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 301, 400, 401, 403, 404, 408, 413, 500, 501, 505] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
