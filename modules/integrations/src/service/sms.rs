//! SMS through the durable outbox (seed 002's SMS fallback): every message is stored
//! (the phone number encrypted) before anything is sent, then sent at once through the
//! providers in priority order that know its template and have budget left; when none
//! can, it stays queued and a job retries it with backoff until it is sent or given
//! up — across restarts, since the queue is the database.
//!
//! At most one send per message: a sender claims the message by a conditional update
//! (its attempt count and a lease), so two replicas never send it together; and a send
//! whose outcome is unknown (no answer after the request left) is never repeated —
//! the message is marked `unknown` instead.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::config::Capability;
use crate::entities::sms_outbox;
use crate::manager::{Failure, Manager, Slot};
use crate::providers::{ProviderError, SmsMessage};

/// Attempts before a message is given up (dead-lettered).
pub const MAX_ATTEMPTS: i64 = 20;
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

/// The first retry's delay, doubled on every attempt (`INTEGRATIONS_SMS_RETRY_SECS`,
/// default 15).
fn retry_base_secs() -> i64 {
    std::env::var("INTEGRATIONS_SMS_RETRY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15i64)
        .clamp(1, 600)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSms {
    /// `+8613800000000`, or an 11-digit mainland number.
    pub phone: String,
    /// The logical template (mapped to each provider's own in integrations.yaml).
    pub template: String,
    /// The template's parameters by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// Your id of this message (unique); generated when absent.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SmsView {
    pub message_id: String,
    /// Masked: `+86138****0000`.
    pub phone: String,
    pub template: String,
    /// pending (queued, will be retried), sent, rejected, dead or unknown.
    pub status: String,
    pub attempts: i64,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
    pub sent_at: Option<chrono::DateTime<Utc>>,
    /// After `sent`, from `?refresh=true`: delivered or failed; null while the
    /// provider has no report.
    pub delivery: Option<String>,
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

pub fn validate(req: &NewSms) -> AppResult<String> {
    let mut errors = FieldErrors::new();
    let phone = normalize_phone(&req.phone);
    if phone.is_none() {
        errors.add(
            "phone",
            "an E.164 number (+86…) or an 11-digit mainland number",
        );
    }
    if req.template.is_empty()
        || req.template.len() > 64
        || !req
            .template
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        errors.add("template", "1 to 64 of A–Z a–z 0–9 _ -");
    }
    for (k, v) in &req.params {
        if !(v.is_string() || v.is_number()) {
            errors.add(&format!("params.{k}"), "a string or a number");
        }
    }
    if req
        .message_id
        .as_deref()
        .is_some_and(|m| m.is_empty() || m.len() > 64)
    {
        errors.add("message_id", "1 to 64 characters");
    }
    errors.into_result()?;
    Ok(phone.unwrap_or_default())
}

/// Per-number limits across providers (`sms_phone_throttle`), shared by replicas.
pub async fn throttle(kernel: &Kernel, manager: &Manager, phone: &str) -> AppResult<()> {
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
            .map_err(|e| AppError::unavailable(&format!("cache ({})", e.0)))?;
        if n > i64::from(limit) {
            let retry_after = secs - now % secs;
            return Err(AppError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "SMS_THROTTLED",
                format!("this number already got {limit} message(s) this {what}"),
            )
            .with_details(
                serde_json::json!({ "limit": limit, "window": what, "retry_after": retry_after }),
            ));
        }
    }
    Ok(())
}

/// Stores the message (or finds it again: the id is unique); true when it is new.
pub async fn enqueue(
    kernel: &Kernel,
    tenant: i64,
    phone: &str,
    req: &NewSms,
    message_id: String,
) -> AppResult<(sms_outbox::Model, bool)> {
    if let Some(existing) = sms_outbox::Entity::find()
        .filter(sms_outbox::Column::MessageId.eq(&message_id))
        .one(&kernel.db)
        .await?
    {
        if existing.tenant_id != tenant {
            return Err(AppError::conflict(
                "MESSAGE_ID_TAKEN",
                "this message_id is already used",
            ));
        }
        return Ok((existing, false));
    }
    let row = sms_outbox::ActiveModel {
        tenant_id: Set(tenant),
        message_id: Set(message_id),
        phone_enc: Set(kernel.pii.encrypt(phone)),
        phone_index: Set(kernel.pii.index(phone)),
        template: Set(req.template.clone()),
        params: Set(Value::Object(req.params.clone())),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(None),
        provider: Set(None),
        provider_message_id: Set(None),
        last_error: Set(None),
        created_at: Set(Utc::now()),
        sent_at: Set(None),
        delivery: Set(None),
        delivery_detail: Set(None),
        delivery_checked_at: Set(None),
        delivery_next_check_at: Set(None),
        ..Default::default()
    };
    Ok((row.insert(&kernel.db).await?, true))
}

/// Claims a pending message whose time has come: true when this caller won it.
async fn claim(kernel: &Kernel, manager: &Manager, row: &sms_outbox::Model) -> AppResult<bool> {
    let now = Utc::now();
    let claimed = sms_outbox::Entity::update_many()
        .col_expr(sms_outbox::Column::Attempts, Expr::value(row.attempts + 1))
        .col_expr(
            sms_outbox::Column::NextAttemptAt,
            Expr::value(now + chrono::Duration::seconds(lease_secs(manager))),
        )
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::Status.eq("pending"))
        .filter(sms_outbox::Column::Attempts.eq(row.attempts))
        .filter(
            Condition::any()
                .add(sms_outbox::Column::NextAttemptAt.is_null())
                .add(sms_outbox::Column::NextAttemptAt.lte(now)),
        )
        .exec(&kernel.db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// One delivery attempt of a stored message (if it is due and this caller claims it);
/// the message as it is afterwards.
pub async fn deliver(
    kernel: &Kernel,
    manager: &Manager,
    row: sms_outbox::Model,
) -> AppResult<sms_outbox::Model> {
    if row.status != "pending" || !claim(kernel, manager, &row).await? {
        return reload(kernel, row.id).await;
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
    // Only the claim this sender holds: its attempt count.
    let mut update = sms_outbox::Entity::update_many()
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::Attempts.eq(attempts));
    let outcome = match result {
        Ok((slot, accepted)) => {
            update = update
                .col_expr(sms_outbox::Column::Status, Expr::value("sent"))
                .col_expr(
                    sms_outbox::Column::Provider,
                    Expr::value(slot.config.name.clone()),
                )
                .col_expr(
                    sms_outbox::Column::ProviderMessageId,
                    Expr::value(accepted.provider_message_id),
                )
                .col_expr(sms_outbox::Column::SentAt, Expr::value(now))
                .col_expr(
                    sms_outbox::Column::DeliveryNextCheckAt,
                    Expr::value(super::sms_reports::first_check(now)),
                )
                .col_expr(
                    sms_outbox::Column::NextAttemptAt,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .col_expr(
                    sms_outbox::Column::LastError,
                    Expr::value(Option::<String>::None),
                );
            "sent"
        }
        Err(Failure::Rejected {
            provider,
            code,
            message,
        }) => {
            update = update
                .col_expr(sms_outbox::Column::Status, Expr::value("rejected"))
                .col_expr(sms_outbox::Column::Provider, Expr::value(provider.clone()))
                .col_expr(
                    sms_outbox::Column::LastError,
                    Expr::value(format!("{provider}: {code}: {message}")),
                );
            "rejected"
        }
        Err(Failure::Ambiguous { provider, message }) => {
            update = update
                .col_expr(sms_outbox::Column::Status, Expr::value("unknown"))
                .col_expr(sms_outbox::Column::Provider, Expr::value(provider.clone()))
                .col_expr(
                    sms_outbox::Column::LastError,
                    Expr::value(format!(
                        "{provider}: no answer after sending ({message}); not resent"
                    )),
                );
            "unknown"
        }
        Err(failure) => {
            let reason = match failure {
                Failure::NoProvider => {
                    "no enabled provider knows this template or has budget left".to_string()
                }
                Failure::AllUnavailable { tried } => tried
                    .iter()
                    .map(|(p, e)| format!("{p}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => String::new(),
            };
            if attempts >= MAX_ATTEMPTS {
                update = update
                    .col_expr(sms_outbox::Column::Status, Expr::value("dead"))
                    .col_expr(sms_outbox::Column::LastError, Expr::value(reason));
                "dead"
            } else {
                // 15 s, 30 s, 1 min … (by default) at most 30 min between attempts.
                let backoff = (retry_base_secs() << (attempts - 1).min(7)).min(1800);
                update = update
                    .col_expr(
                        sms_outbox::Column::NextAttemptAt,
                        Expr::value(now + chrono::Duration::seconds(backoff)),
                    )
                    .col_expr(sms_outbox::Column::LastError, Expr::value(reason));
                "retry"
            }
        }
    };
    update.exec(&kernel.db).await?;
    manager.metrics.sms.with_label_values(&[outcome]).inc();
    reload(kernel, row.id).await
}

pub(super) async fn reload(kernel: &Kernel, id: i64) -> AppResult<sms_outbox::Model> {
    sms_outbox::Entity::find_by_id(id)
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("SMS message"))
}

/// Delivers the pending messages that are due, oldest first; how many were tried.
pub async fn deliver_due(kernel: &Kernel, manager: &Manager) -> AppResult<usize> {
    let due = sms_outbox::Entity::find()
        .filter(sms_outbox::Column::Status.eq("pending"))
        .filter(
            Condition::any()
                .add(sms_outbox::Column::NextAttemptAt.is_null())
                .add(sms_outbox::Column::NextAttemptAt.lte(Utc::now())),
        )
        .order_by_asc(sms_outbox::Column::Id)
        .limit(50)
        .all(&kernel.db)
        .await?;
    let n = due.len();
    for row in due {
        deliver(kernel, manager, row).await?;
    }
    Ok(n)
}

pub async fn find(kernel: &Kernel, tenant: i64, message_id: &str) -> AppResult<sms_outbox::Model> {
    sms_outbox::Entity::find()
        .filter(sms_outbox::Column::MessageId.eq(message_id))
        .filter(sms_outbox::Column::TenantId.eq(tenant))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("SMS message"))
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
