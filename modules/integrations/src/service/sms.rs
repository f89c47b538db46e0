//! SMS through the durable outbox: every message is stored (the phone number
//! encrypted) before anything is sent, then sent at once through the providers in
//! priority order that know its template and have budget left; when none can, it stays
//! queued and a job retries it with backoff until it is sent or given up — across
//! restarts, since the queue is the database.
//!
//! At most one send per message: a sender claims the message by a conditional update
//! (its attempt count and a lease), so two replicas never send it together; and a send
//! whose outcome is unknown (no answer after the request left) is never repeated —
//! the message is marked `unknown` instead.

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::states::{Delivery, SmsStatus};
use crate::config::Capability;
use crate::entities::sms_outbox;
use crate::error::Code;
use crate::manager::{Failure, Manager, Slot};
use crate::providers::{ProviderError, SmsMessage};
use crate::store::outbox::{self as store, Attempt};
use crate::store::Unique;

/// Attempts before a message is given up (dead-lettered).
pub const MAX_ATTEMPTS: i64 = 20;
/// Messages sent per round of the outbox job.
const BATCH: u64 = 50;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 1800;

/// How long a claimed message is left to its sender: longer than the slowest send can
/// take (every SMS provider tried once, each within its timeout, never repeated), so
/// no other replica claims a message while its send may still be under way.
fn lease_secs(manager: &Manager) -> i64 {
    let sending: u64 = manager
        .candidates(Capability::Sms)
        .iter()
        .map(|s| s.config.timeout.as_secs())
        .sum();
    (sending as i64 + 30).max(60)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSms {
    /// `+8613800000000`, or an 11-digit mainland number.
    #[schema(max_length = 16)]
    pub phone: String,
    /// The logical template (mapped to each provider's own in integrations.yaml).
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub template: String,
    /// The template's parameters by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// Your id of this message (unique); generated when absent.
    #[schema(min_length = 1, max_length = 64)]
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SmsView {
    pub message_id: String,
    /// Masked: `+86138****0000`.
    pub phone: String,
    pub template: String,
    pub status: SmsStatus,
    pub attempts: i64,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
    pub sent_at: Option<chrono::DateTime<Utc>>,
    /// After `sent`, from `?refresh=true` or the report job; null while the provider
    /// has no report.
    pub delivery: Option<Delivery>,
    /// The provider's report: status, code, when the phone got it.
    pub delivery_detail: Option<String>,
    pub delivery_checked_at: Option<chrono::DateTime<Utc>>,
}

pub fn view(kernel: &Kernel, m: sms_outbox::Model) -> SmsView {
    let phone = kernel
        .pii
        .decrypt(&m.phone_enc)
        .map(|p| shopops_kernel::crypto::mask(&p))
        .unwrap_or_else(|_| "****".into());
    SmsView {
        message_id: m.message_id,
        phone,
        template: m.template,
        status: m.status,
        attempts: m.attempts,
        provider: m.provider,
        provider_message_id: m.provider_message_id,
        last_error: m.last_error,
        next_attempt_at: m.next_attempt_at,
        created_at: m.created_at,
        sent_at: m.sent_at,
        delivery: m.delivery,
        delivery_detail: m.delivery_detail,
        delivery_checked_at: m.delivery_checked_at,
    }
}

/// `+86…` E.164 from what callers write.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let p: String = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = p.strip_prefix('+') {
        return (digits(rest) && (8..=15).contains(&rest.len())).then(|| p.clone());
    }
    (p.len() == 11 && p.starts_with('1') && digits(&p)).then(|| format!("+86{p}"))
}

/// Checks the request; the phone number in E.164.
pub fn validate(req: &NewSms) -> AppResult<String> {
    let mut errors = FieldErrors::new();
    let phone = normalize_phone(&req.phone);
    if phone.is_none() {
        errors.add(
            "phone",
            tr!(
                "应为 E.164 号码（+86…）或 11 位大陆手机号",
                "an E.164 number (+86…) or an 11-digit mainland number"
            ),
        );
    }
    if req.template.is_empty()
        || req.template.len() > 64
        || !req
            .template
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        errors.add(
            "template",
            tr!(
                "应为 1 到 64 个 A–Z a–z 0–9 _ - 字符",
                "1 to 64 of A–Z a–z 0–9 _ -"
            ),
        );
    }
    for (k, v) in &req.params {
        if !(v.is_string() || v.is_number()) {
            errors.add(
                &format!("params.{k}"),
                tr!("应为字符串或数字", "a string or a number"),
            );
        }
    }
    if req
        .message_id
        .as_deref()
        .is_some_and(|m| m.is_empty() || m.len() > 64)
    {
        errors.add(
            "message_id",
            tr!("应为 1 到 64 个字符", "1 to 64 characters"),
        );
    }
    errors.into_result()?;
    Ok(phone.unwrap_or_default())
}

/// The message's id: the caller's, or derived from its idempotency key (so that a
/// retried request finds the same message), or new.
pub fn message_id(given: Option<&str>, idempotency: Option<&str>, tenant: i64) -> String {
    match (given, idempotency) {
        (Some(id), _) => id.to_string(),
        (None, Some(key)) => format!(
            "sms-{}",
            &crate::client::digest::sha256_hex(format!("{tenant}:{key}").as_bytes())[..24]
        ),
        (None, None) => format!("sms-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// Per-number limits across providers (`sms_phone_throttle`), shared by replicas.
async fn throttle(kernel: &Kernel, manager: &Manager, phone: &str) -> AppResult<()> {
    let t = manager.registry().phone_throttle.clone();
    let index = kernel.pii.index(phone);
    let now = Utc::now().timestamp();
    for (limit, window, secs, what) in [
        (t.per_minute, "m", 60, "minute"),
        (t.per_day, "d", 86_400, "day"),
    ] {
        if limit == 0 {
            continue;
        }
        let key = format!("integrations:sms_phone:{index}:{window}:{}", now / secs);
        let n = kernel
            .cache
            .cache
            .incr(&key, Duration::from_secs(secs as u64 + 5))
            .await
            .map_err(|e| {
                tracing::warn!(error = %e.0, "SMS throttle counter unavailable");
                AppError::unavailable("cache")
            })?;
        if n > i64::from(limit) {
            let retry_after = secs - now % secs;
            return Err(Code::SmsThrottled.err().with_details(
                json!({ "limit": limit, "window": what, "retry_after": retry_after }),
            ));
        }
    }
    Ok(())
}

/// A message posted by `tenant`: stored (unless its id is already the tenant's: then
/// the stored one), then one delivery attempt if it is due; the message afterwards.
pub async fn submit(
    kernel: &Kernel,
    manager: &Manager,
    tenant: i64,
    phone: &str,
    req: &NewSms,
    message_id: String,
) -> AppResult<sms_outbox::Model> {
    let row = match store::by_message_id(&kernel.db, tenant, &message_id).await? {
        Unique::Mine(row) => row,
        Unique::Taken => return Err(Code::MessageIdTaken.err()),
        Unique::Free => {
            throttle(kernel, manager, phone).await?;
            let new = store::NewMessage {
                tenant,
                message_id,
                phone_enc: kernel.pii.encrypt(phone),
                phone_index: kernel.pii.index(phone),
                template: req.template.clone(),
                params: Value::Object(req.params.clone()),
            };
            store::insert(&kernel.db, new).await?
        }
    };
    deliver(kernel, manager, row).await
}

/// One delivery attempt of a stored message (if it is due and this caller claims it);
/// the message as it is afterwards.
pub async fn deliver(
    kernel: &Kernel,
    manager: &Manager,
    row: sms_outbox::Model,
) -> AppResult<sms_outbox::Model> {
    let now = Utc::now();
    let lease = now + chrono::Duration::seconds(lease_secs(manager));
    if row.status != SmsStatus::Pending || !store::claim(&kernel.db, &row, now, lease).await? {
        return reload(kernel, &row).await;
    }
    let attempts = row.attempts + 1;
    let phone = kernel
        .pii
        .decrypt(&row.phone_enc)
        .map_err(AppError::internal)?;
    let message = SmsMessage {
        message_id: row.message_id.clone(),
        phone,
        template: row.template.clone(),
        params: row.params.as_object().cloned().unwrap_or_default(),
    };
    let mut candidates: Vec<Slot> = Vec::new();
    for slot in manager.candidates(Capability::Sms) {
        if slot
            .sms()
            .is_some_and(|p| p.has_template(&message.template))
            && manager.sms_budget(kernel, &slot).await
        {
            candidates.push(slot);
        }
    }
    let result = manager
        .failover(candidates, |slot| {
            let message = message.clone();
            async move {
                slot.sms()
                    .ok_or_else(|| ProviderError::Unavailable("not an SMS provider".into()))?
                    .send(&message)
                    .await
            }
        })
        .await;
    let now = Utc::now();
    let not_sent = |reason: String| {
        if attempts >= MAX_ATTEMPTS {
            Attempt::Dead { error: reason }
        } else {
            // 15 s, 30 s, 1 min … (by default) at most 30 min between attempts.
            let base = manager.settings.sms_retry().num_seconds();
            let backoff = (base << (attempts - 1).min(7)).min(MAX_BACKOFF_SECS);
            Attempt::Retry {
                at: now + chrono::Duration::seconds(backoff),
                error: reason,
            }
        }
    };
    let attempt = match result {
        Ok((slot, accepted)) => Attempt::Sent {
            provider: slot.config.name.clone(),
            provider_message_id: accepted.provider_message_id,
            at: now,
            first_check: super::sms_reports::first_check(manager.settings.sms_report_gap(), now),
        },
        Err(Failure::Rejected {
            provider,
            code,
            message,
        }) => Attempt::Rejected {
            error: format!("{provider}: {code}: {message}"),
            provider,
        },
        Err(Failure::Ambiguous { provider, message }) => Attempt::Unknown {
            error: format!("{provider}: no answer after sending ({message}); not resent"),
            provider,
        },
        Err(Failure::NoProvider) => {
            not_sent("no enabled provider knows this template or has budget left".into())
        }
        Err(Failure::AllUnavailable { tried }) => not_sent(
            tried
                .iter()
                .map(|(p, e)| format!("{p}: {e}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let outcome = match &attempt {
        Attempt::Sent { .. } => SmsStatus::Sent.as_str(),
        Attempt::Rejected { .. } => SmsStatus::Rejected.as_str(),
        Attempt::Unknown { .. } => SmsStatus::Unknown.as_str(),
        Attempt::Dead { .. } => SmsStatus::Dead.as_str(),
        Attempt::Retry { .. } => "retry",
    };
    store::record_attempt(&kernel.db, &row, attempts, attempt).await?;
    manager.metrics.sms.with_label_values(&[outcome]).inc();
    reload(kernel, &row).await
}

/// The message as it is now.
pub(super) async fn reload(
    kernel: &Kernel,
    row: &sms_outbox::Model,
) -> AppResult<sms_outbox::Model> {
    store::reload(&kernel.db, row)
        .await?
        .ok_or_else(|| AppError::not_found("sms_message"))
}

/// One round of the outbox job: the pending messages that are due, oldest first; how
/// many were tried.
pub async fn deliver_due(kernel: &Kernel, manager: &Manager) -> AppResult<usize> {
    let due = store::due(&kernel.db, Utc::now(), BATCH).await?;
    let n = due.len();
    for row in due {
        deliver(kernel, manager, row).await?;
    }
    Ok(n)
}

/// The tenant's message `message_id`.
pub async fn find(kernel: &Kernel, tenant: i64, message_id: &str) -> AppResult<sms_outbox::Model> {
    match store::by_message_id(&kernel.db, tenant, message_id).await? {
        Unique::Mine(row) => Ok(row),
        // Another tenant's message is not found, as any other tenant's row.
        Unique::Taken | Unique::Free => Err(AppError::not_found("sms_message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised() {
        assert_eq!(
            normalize_phone("13800000000").as_deref(),
            Some("+8613800000000")
        );
        assert_eq!(
            normalize_phone("+86 138-0000-0000").as_deref(),
            Some("+8613800000000")
        );
        assert_eq!(
            normalize_phone("+85291234567").as_deref(),
            Some("+85291234567")
        );
        assert_eq!(normalize_phone("12345"), None);
        assert_eq!(normalize_phone("+86abc"), None);
        assert_eq!(normalize_phone("23800000000"), None);
    }
}
