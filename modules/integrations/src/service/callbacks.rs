//! The providers' payment and refund notifications: verified by the provider(s) of
//! their kind, stored once per provider event, applied to the payment. A replay is
//! acknowledged with no second effect; a forgery is refused as the provider expects.

use chrono::Utc;
use shopops_kernel::audit::Actor;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppError, AppResult, Kernel};

use super::payments::apply_state;
use crate::config::Capability;
use crate::manager::{Manager, Slot};
use crate::providers::{EventKind, PaymentEvent};
use crate::store::payments as store;

/// What to answer a provider's notification with.
pub struct CallbackReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Verifies a notification with the provider(s) of `kind` (several accounts of one
/// provider may be configured), stores and applies it; the answer the provider expects.
pub async fn callback(
    kernel: &Kernel,
    manager: &Manager,
    ctx: &RequestContext,
    kind: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> AppResult<CallbackReply> {
    let now = Utc::now().timestamp();
    let slots: Vec<Slot> = manager
        .registry()
        .slots
        .iter()
        .filter(|s| s.config.capability == Capability::Payment && s.config.kind == kind)
        .cloned()
        .collect();
    let mut refusal = None;
    for slot in &slots {
        let Some(provider) = slot.payment() else {
            continue;
        };
        let verdict = provider.callback(headers, body, now).await;
        let reply = CallbackReply {
            status: verdict.reply_status,
            content_type: verdict.reply_content_type,
            body: verdict.reply_body,
        };
        match verdict.event {
            Ok(event) => {
                let outcome = apply_event(kernel, ctx, &slot.config.name, event).await?;
                manager
                    .metrics
                    .callbacks
                    .with_label_values(&[kind, outcome])
                    .inc();
                return Ok(reply);
            }
            Err(why) => {
                refusal.get_or_insert((reply, why));
            }
        }
    }
    manager
        .metrics
        .callbacks
        .with_label_values(&[kind, "refused"])
        .inc();
    match refusal {
        Some((reply, why)) => {
            tracing::warn!(provider = kind, reason = %why, "payment notification refused");
            Ok(reply)
        }
        None => Err(AppError::not_found("payment_provider")),
    }
}

/// Stores the event once and applies it to its payment, in one transaction;
/// `applied` or `duplicate`.
async fn apply_event(
    kernel: &Kernel,
    ctx: &RequestContext,
    provider: &str,
    event: PaymentEvent,
) -> AppResult<&'static str> {
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let payment = store::payment_for_notification(&txn, provider, &event.out_trade_no).await?;
    if !store::record_event(&txn, provider, &event, payment.as_ref()).await? {
        txn.rollback().await?;
        return Ok("duplicate");
    }
    match payment {
        Some(p) => {
            let amount_ok = event.state.paid_amount.is_none_or(|paid| paid == p.amount);
            if !amount_ok {
                tracing::warn!(out_trade_no = %p.out_trade_no, "notified amount differs from the order; not applied");
            } else if event.kind == EventKind::Payment && p.status.advances_to(event.state.status) {
                apply_state(
                    &txn,
                    ctx,
                    &Actor::system(provider),
                    &p,
                    event.state.status,
                    event.state.provider_trade_no.as_deref(),
                )
                .await?;
            }
        }
        None => {
            tracing::warn!(out_trade_no = %event.out_trade_no, provider, "notification for an unknown order kept");
        }
    }
    txn.commit().await?;
    Ok("applied")
}
