//! Refunds of a paid payment at its provider, idempotent on `out_refund_no`: partial
//! refunds add up, and more than what is left is refused before any call.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::payments::{not_payment, order_no_rule, provider_of};
use super::states::{PaymentStatus, RefundStatus};
use crate::entities::{payment, refund};
use crate::error::{self, Code};
use crate::manager::Manager;
use crate::providers::{ProviderError, RefundOrder, RefundState};
use crate::store::payments as store;
use crate::store::Unique;

/// Longest refund reason: what WeChat Pay accepts (Alipay takes more).
const REASON_MAX_CHARS: usize = 80;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// In fen; at most what is left of the payment.
    #[schema(minimum = 1, maximum = 100000000)]
    pub amount: i64,
    /// At most 80 characters.
    #[schema(max_length = 80)]
    pub reason: Option<String>,
    /// Your refund number (6–32 of `A–Z a–z 0–9 _ -`); generated when absent.
    #[schema(min_length = 6, max_length = 32, pattern = "^[A-Za-z0-9_-]+$")]
    pub out_refund_no: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub payment_id: i64,
    pub out_refund_no: String,
    pub amount: i64,
    pub reason: Option<String>,
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
}

pub fn view(r: refund::Model) -> RefundView {
    RefundView {
        id: r.id,
        payment_id: r.payment_id,
        out_refund_no: r.out_refund_no,
        amount: r.amount,
        reason: r.reason,
        status: r.status,
        provider_refund_id: r.provider_refund_id,
        created_at: r.created_at,
    }
}

/// A refund number: `R` and the rest of an order number.
pub fn refund_number(idempotency: Option<&str>, tenant: i64) -> String {
    let no = super::payments::order_number(idempotency, tenant);
    format!("R{}", &no[1..])
}

fn validate(req: &NewRefund) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if req.amount <= 0 || req.amount > 100_000_000 {
        errors.add(
            "amount",
            tr!(
                "必须在 1 到 100000000 分之间",
                "between 1 and 100000000 fen"
            ),
        );
    }
    if let Some(no) = &req.out_refund_no {
        order_no_rule("out_refund_no", no, &mut errors);
    }
    if let Some(reason) = &req.reason {
        shopops_kernel::validate::free_text("reason", reason, REASON_MAX_CHARS, &mut errors);
    }
    errors.into_result()
}

/// The first phase of a refund: checks, the refund row, the provider (refunds are
/// idempotent on `out_refund_no`, so an ambiguous answer is asked once more).
pub async fn start(
    kernel: &Kernel,
    manager: &Manager,
    p: &payment::Model,
    req: &NewRefund,
    refund_no: String,
) -> AppResult<(refund::Model, RefundState)> {
    validate(req)?;
    let row = match store::refund_by_no(&kernel.db, p.tenant_id, &refund_no).await? {
        // The same refund again (a retry): already checked and counted once.
        Unique::Mine(r) if r.payment_id == p.id && r.amount == req.amount => r,
        Unique::Mine(_) | Unique::Taken => return Err(Code::OutRefundNoTaken.err()),
        Unique::Free => {
            if !p.status.refundable() {
                return Err(Code::PaymentNotPaid
                    .err()
                    .with_details(json!({ "status": p.status.as_str() })));
            }
            let left = p.amount - p.refunded_amount;
            if req.amount > left {
                return Err(Code::RefundExceedsPayment
                    .err()
                    .with_details(json!({ "refundable": left })));
            }
            store::insert_refund(&kernel.db, p, &refund_no, req.amount, req.reason.as_deref())
                .await?
        }
    };
    let slot = provider_of(manager, p)?;
    let order = RefundOrder {
        out_trade_no: p.out_trade_no.clone(),
        out_refund_no: row.out_refund_no.clone(),
        amount: row.amount,
        total: p.amount,
        reason: row.reason.clone(),
    };
    let order = &order;
    let mut result = manager
        .attempt(&slot, |s| async move {
            s.payment().ok_or_else(not_payment)?.refund(order).await
        })
        .await;
    if let Err(ProviderError::Ambiguous(_)) = &result {
        result = manager
            .attempt(&slot, |s| async move {
                s.payment().ok_or_else(not_payment)?.refund(order).await
            })
            .await;
    }
    let state = result.map_err(|e| error::provider_error(&p.provider, e))?;
    Ok((row, state))
}

/// The second phase: the provider's answer on the refund, the refund counted on the
/// payment (once, when first accepted), and the audit record.
pub async fn record(
    txn: &sea_orm::DatabaseTransaction,
    ctx: &RequestContext,
    actor: &Actor,
    p: &payment::Model,
    row: refund::Model,
    state: RefundState,
) -> AppResult<RefundView> {
    let (id, amount) = (row.id, row.amount);
    let saved = store::save_refund_state(txn, row, &state).await?;
    if state.status.accepted() && store::count_refund(txn, id).await? {
        // On the payment as it is now, not as it was read before the provider's call.
        let current = store::current(txn, p)
            .await?
            .ok_or_else(|| AppError::not_found("payment"))?;
        let refunded = current.refunded_amount + amount;
        let status = if refunded >= p.amount {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
        store::set_refunded(txn, p, refunded, status).await?;
    }
    audit::record(
        txn,
        ctx,
        actor,
        Change {
            tenant_id: p.tenant_id,
            action: "integrations.payment.refund",
            target_type: "payment",
            target_id: p.id.to_string(),
            summary: json!({ "out_refund_no": saved.out_refund_no, "amount": saved.amount, "status": saved.status.as_str() }),
        },
    )
    .await?;
    Ok(view(saved))
}
