//! Retries with exponential backoff and jitter (the `backon` crate), honouring
//! `Retry-After`.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::Attempt;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

/// Runs `attempt` until it is done, fails for good, or the retries are used up.
/// Retried: 429/5xx answers, timeouts and network errors; never a refused circuit.
pub(super) async fn run<F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Attempt
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.first_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(2.0)
        .with_max_times(policy.max_retries)
        .with_jitter();
    let max_delay = policy.max_delay;
    // backon retries on Err: a retryable outcome travels as Err, a final one as Ok.
    let result = (move || {
        let fut = attempt();
        async move {
            match fut.await {
                Attempt::Done(r) => Ok(Attempt::Done(r)),
                other => Err(other),
            }
        }
    })
    .retry(backoff)
    .when(|a: &Attempt| match a {
        Attempt::Retryable { .. } => true,
        Attempt::Failed(e) => !matches!(
            e,
            super::OutsideError::CircuitOpen { .. } | super::OutsideError::Request { .. }
        ),
        Attempt::Done(_) => false,
    })
    .adjust(move |a: &Attempt, next: Option<Duration>| {
        // Only when a retry is still allowed: the server's wish wins over our backoff.
        let asked = match a {
            Attempt::Retryable {
                retry_after: Some(d),
                ..
            } => Some((*d).min(max_delay)),
            _ => None,
        };
        next.map(|d| asked.unwrap_or(d))
    })
    .await;
    result.unwrap_or_else(|a| a)
}

/// `Retry-After` as seconds or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
