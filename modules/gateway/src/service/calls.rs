//! Calls through a platform's session, with the retry table of docs/gateway.md:
//!
//! | failure | retries | waits |
//! |---|---|---|
//! | network (timeout, refused) | 3 | 1, 2, 4 × `network_backoff_ms` |
//! | session expired (expiry rule) | 1, at once, after a refresh | — |
//! | 5xx | 3 | 1, 2, 4 × `server_error_backoff_ms` (5, 10, 20 s) |
//! | 429 | 0: the session is retired | — |
//!
//! Refused passwords are the login's business ([`super::login`]): never retried.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::json;
use shopops_kernel::{AppResult, Kernel};

use super::http::{Answer, Outgoing};
use super::login;
use super::{Gateway, Platform};
use crate::error::Code;

/// A call a caller asked for (path under the platform's `base_url`).
pub struct Call {
    pub method: Method,
    /// Path with its query (`/api/orders?page=2`).
    pub path: String,
    pub headers: HeaderMap,
    pub body: Option<(Vec<u8>, HeaderValue)>,
}

/// What the call did besides answering (for metrics and the keepalive job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// It answered after the session was refreshed.
    Refreshed,
}

/// Whether an answer says the session expired, by the platform's rule.
pub fn expired(platform: &Platform, answer: &Answer) -> bool {
    let rule = &platform.settings.expiry;
    rule.statuses.contains(&answer.status)
        || (rule.login_redirect
            && (300..400).contains(&answer.status)
            && answer
                .location()
                .is_some_and(|l| l.contains(&platform.settings.login_url)))
        || rule
            .body_contains
            .as_deref()
            .is_some_and(|t| answer.body_text().contains(t))
}

fn details(platform: &Platform, reason: &str, status: Option<u16>) -> serde_json::Value {
    json!({ "platform": platform.name, "reason": reason, "status": status })
}

/// Makes the call through the platform's session (logging in when there is none).
pub async fn call(
    kernel: &Kernel,
    gateway: &Gateway,
    platform: &Platform,
    call: &Call,
) -> AppResult<(Answer, Outcome)> {
    let url = platform.url(&call.path)?;
    let mut stale = None;
    let mut refreshed = false;
    let mut server_tries = 0u32;
    let server_wait = Duration::from_millis(gateway.config.server_error_backoff_ms);
    loop {
        let live = login::session(kernel, gateway, platform, stale).await?;
        let session = &live.session;
        let account = session.login_info.account_id;
        if !platform.count_use(kernel, session).await? {
            tracing::info!(platform = %platform.name, "session reached max_session_uses; logging in again");
            stale = Some(session.created_at);
            continue;
        }
        let request = Outgoing {
            method: call.method.clone(),
            url: url.clone(),
            headers: call.headers.clone(),
            body: call.body.clone(),
        }
        .with_session(&session.cookies, &session.headers);
        let answer = match gateway.send_retrying(&request).await {
            Ok(answer) => answer,
            Err(fault) => {
                platform.penalise(kernel, account).await?;
                gateway
                    .metrics
                    .calls
                    .with_label_values(&["unavailable"])
                    .inc();
                return Err(Code::PlatformUnavailable
                    .err()
                    .with_details(details(platform, &fault.0, None)));
            }
        };
        if expired(platform, &answer) {
            platform.penalise(kernel, account).await?;
            if refreshed {
                gateway.metrics.calls.with_label_values(&["expired"]).inc();
                return Err(Code::SessionExpired.err().with_details(details(
                    platform,
                    "expired again after a fresh login",
                    Some(answer.status),
                )));
            }
            tracing::info!(platform = %platform.name, status = answer.status, "session expired at the platform; refreshing");
            stale = Some(session.created_at);
            refreshed = true;
            continue;
        }
        if answer.status == 429 {
            platform.retire(kernel, account).await?;
            gateway
                .metrics
                .calls
                .with_label_values(&["platform_error"])
                .inc();
            return Err(Code::PlatformError.err().with_details(details(
                platform,
                "rate limited: the account rests",
                Some(429),
            )));
        }
        if answer.status >= 500 {
            if server_tries < 3 {
                tracing::info!(platform = %platform.name, status = answer.status, "platform error; retrying");
                tokio::time::sleep(server_wait * 2u32.pow(server_tries)).await;
                server_tries += 1;
                continue;
            }
            platform.penalise(kernel, account).await?;
            gateway
                .metrics
                .calls
                .with_label_values(&["unavailable"])
                .inc();
            return Err(Code::PlatformUnavailable.err().with_details(details(
                platform,
                "the platform kept failing",
                Some(answer.status),
            )));
        }
        platform.reward(kernel, account).await?;
        platform.touch(kernel).await?;
        let outcome = if refreshed {
            Outcome::Refreshed
        } else {
            Outcome::Ok
        };
        gateway
            .metrics
            .calls
            .with_label_values(&[if refreshed { "refreshed" } else { "ok" }])
            .inc();
        return Ok((answer, outcome));
    }
}
