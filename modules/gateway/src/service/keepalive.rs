//! The keepalive job (one leader across processes; the keepalive worker runs it): a
//! heartbeat (`GET heartbeat_path`) per enabled platform with a live session every
//! `keepalive_interval`; an expired session is refreshed by the call itself (one fresh
//! login); a failure waits `keepalive_retry_base_secs`·2ⁿ (60·2ⁿ s) before the next
//! try, and past `max_retries` failures in a row the platform alerts
//! ([`crate::alerts`]) while the tries go on at that pace.

use chrono::Utc;
use reqwest::header::HeaderMap;
use reqwest::Method;
use shopops_kernel::Kernel;

use super::calls::{self, Call, Outcome};
use super::{Gateway, Platform};
use crate::store;

/// Longest wait between two tries of a failing keepalive (a day).
const MAX_BACKOFF_SECS: u64 = 86_400;

/// One pass over the platforms due a heartbeat.
pub async fn run(kernel: &Kernel, gateway: &Gateway) -> Result<(), String> {
    let due = store::keepalive_due(&kernel.db, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    for row in due {
        let (id, tenant) = (row.id, row.tenant_id);
        let platform = match Platform::from_row(kernel, row.clone()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(platform = id, tenant, error = %e, "platform unreadable; keepalive skipped");
                continue;
            }
        };
        let interval = chrono::Duration::seconds(platform.settings.keepalive_interval as i64);
        let live = match platform.live_session(kernel).await {
            Ok(live) => live,
            Err(e) => return Err(e.to_string()),
        };
        if live.is_none() {
            // Nothing to keep: the next call logs in. Look again after an interval.
            store::keepalive_result(&kernel.db, &row, 0, Utc::now() + interval, None)
                .await
                .map_err(|e| e.to_string())?;
            continue;
        }
        let heartbeat = Call {
            method: Method::GET,
            path: platform.settings.heartbeat_path.clone(),
            headers: HeaderMap::new(),
            body: None,
        };
        let result = calls::call(kernel, gateway, &platform, &heartbeat).await;
        let (failures, next, error) = match result {
            Ok((answer, outcome)) if (200..300).contains(&answer.status) => {
                let label = if outcome == Outcome::Refreshed {
                    "refreshed"
                } else {
                    "ok"
                };
                gateway.metrics.heartbeats.with_label_values(&[label]).inc();
                (0, Utc::now() + interval, None)
            }
            other => {
                let reason = match other {
                    Ok((answer, _)) => format!("heartbeat answered {}", answer.status),
                    Err(e) => e.code.to_string(),
                };
                gateway
                    .metrics
                    .heartbeats
                    .with_label_values(&["failed"])
                    .inc();
                let failures = row.keepalive_failures.saturating_add(1);
                let wait = gateway
                    .config
                    .keepalive_retry_base_secs
                    .saturating_mul(1u64 << (failures - 1).clamp(0, 20) as u32)
                    .min(MAX_BACKOFF_SECS);
                tracing::warn!(platform = %platform.name, tenant, failures, retry_in_secs = wait, reason = %reason, "keepalive failed");
                (
                    failures,
                    Utc::now() + chrono::Duration::seconds(wait as i64),
                    Some(reason),
                )
            }
        };
        store::keepalive_result(&kernel.db, &row, failures, next, error)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
