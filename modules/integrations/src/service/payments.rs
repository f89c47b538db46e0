//! Payments: create (failover across the providers that offer the channel, never after
//! an ambiguous write without asking that provider first), query, close, refund, and
//! the providers' notifications (verified, stored once per provider event, applied).

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::config::Capability;
use crate::entities::{callback_event, payment, refund};
use crate::error;
use crate::manager::{Manager, Slot};
use crate::providers::{Channel, PaymentOrder, PaymentStarted, ProviderError, RefundOrder};

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub channel: Channel,
    /// In fen (1 yuan = 100).
    pub amount: i64,
    /// What the payer sees (1–127 characters).
    pub description: String,
    /// Your order number (6–32 of `A–Z a–z 0–9 _ -`); generated when absent.
    pub out_trade_no: Option<String>,
    /// Only this provider (by name); otherwise the highest-priority available one.
    pub provider: Option<String>,
    /// JSAPI: the payer's openid.
    pub openid: Option<String>,
    /// H5: the payer's IP address.
    pub client_ip: Option<String>,
    /// Page pay: where the payer returns.
    pub return_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: i64,
    pub out_trade_no: String,
    pub provider: String,
    pub channel: String,
    pub amount: i64,
    pub currency: String,
    pub description: String,
    /// creating, pending, paid, closed, refunded, partially_refunded, failed or unknown.
    pub status: String,
    pub provider_trade_no: Option<String>,
    /// What the payer's client needs: `code_url` / `qr_code`, `h5_url`, `prepay_id` +
    /// `pay_params`, or page pay's `url` and `form`.
    #[schema(value_type = Object)]
    pub client_data: Value,
    pub refunded_amount: i64,
    pub paid_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

pub fn view(p: payment::Model) -> PaymentView {
    PaymentView {
        id: p.id,
        out_trade_no: p.out_trade_no,
        provider: p.provider,
        channel: p.channel,
        amount: p.amount,
        currency: p.currency,
        description: p.description,
        status: p.status,
        provider_trade_no: p.provider_trade_no,
        client_data: p.client_data,
        refunded_amount: p.refunded_amount,
        paid_at: p.paid_at,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn valid_order_no(no: &str) -> bool {
    (6..=32).contains(&no.len())
        && no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn validate(req: &NewPayment) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if req.amount <= 0 || req.amount > 100_000_000 {
        errors.add("amount", "between 1 and 100000000 fen");
    }
    let len = req.description.chars().count();
    if len == 0 || len > 127 {
        errors.add("description", "1 to 127 characters");
    }
    if let Some(no) = &req.out_trade_no {
        if !valid_order_no(no) {
            errors.add("out_trade_no", "6 to 32 of A–Z a–z 0–9 _ -");
        }
    }
    if req.channel == Channel::Jsapi && req.openid.as_deref().is_none_or(str::is_empty) {
        errors.add("openid", "required for the jsapi channel");
    }
    if req.channel == Channel::H5 && req.client_ip.as_deref().is_none_or(str::is_empty) {
        errors.add("client_ip", "required for the h5 channel");
    }
    errors.into_result()
}

/// An order number: `P` + date + 20 random characters, or derived from the caller's
/// idempotency key so that a retried request reaches the same order at the provider.
pub fn order_number(idempotency: Option<&str>, tenant: i64) -> String {
    let date = Utc::now().format("%Y%m%d");
    let tail = match idempotency {
        Some(key) => crate::client::digest::sha256_hex(format!("{tenant}:{key}").as_bytes())[..20]
            .to_string(),
        None => uuid::Uuid::new_v4().simple().to_string()[..20].to_string(),
    };
    format!("P{date}{tail}")
}

async fn set_status<C: ConnectionTrait>(
    db: &C,
    id: i64,
    status: &str,
    provider: Option<&str>,
) -> AppResult<()> {
    let mut update = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status))
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(p) = provider {
        update = update.col_expr(payment::Column::Provider, Expr::value(p));
    }
    update.filter(payment::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// The first phase of a create: the order row, then the providers. Runs outside any
/// transaction; the second phase ([`record_created`]) stores the outcome.
pub async fn start(
    kernel: &Kernel,
    manager: &Manager,
    tenant: i64,
    req: &NewPayment,
    order_no: String,
) -> AppResult<(payment::Model, String, PaymentStarted)> {
    let existing = payment::Entity::find()
        .filter(payment::Column::OutTradeNo.eq(&order_no))
        .one(&kernel.db)
        .await?;
    let row = match existing {
        Some(p) if p.tenant_id != tenant => {
            return Err(AppError::conflict(
                "OUT_TRADE_NO_TAKEN",
                "this out_trade_no is already used",
            ))
        }
        // A retry of a create whose record was lost: the provider already has it.
        Some(p) if p.status == "pending" && !p.provider.is_empty() => {
            let data = PaymentStarted {
                client_data: p.client_data.clone(),
            };
            let provider = p.provider.clone();
            return Ok((p, provider, data));
        }
        // Not created yet, or not known to be: settled and tried again below.
        Some(p) if matches!(p.status.as_str(), "creating" | "failed" | "unknown") => p,
        Some(_) => {
            return Err(AppError::conflict(
                "OUT_TRADE_NO_TAKEN",
                "this out_trade_no is already used",
            ))
        }
        None => {
            let now = Utc::now();
            payment::ActiveModel {
                tenant_id: Set(tenant),
                provider: Set(String::new()),
                channel: Set(req.channel.as_str().into()),
                out_trade_no: Set(order_no.clone()),
                amount: Set(req.amount),
                currency: Set("CNY".into()),
                description: Set(req.description.clone()),
                status: Set("creating".into()),
                provider_trade_no: Set(None),
                client_data: Set(json!({})),
                refunded_amount: Set(0),
                paid_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&kernel.db)
            .await?
        }
    };
    let candidates: Vec<Slot> = manager
        .candidates(Capability::Payment)
        .into_iter()
        .filter(|s| s.payment().is_some_and(|p| p.supports(req.channel)))
        .filter(|s| req.provider.as_deref().is_none_or(|n| n == s.config.name))
        .collect();
    if candidates.is_empty() {
        set_status(&kernel.db, row.id, "failed", None).await?;
        return Err(error::payment_unavailable(
            &[],
            format!(
                "no enabled provider offers the {} channel",
                req.channel.as_str()
            ),
        ));
    }
    let order = PaymentOrder {
        out_trade_no: order_no,
        amount: req.amount,
        description: req.description.clone(),
        channel: req.channel,
        openid: req.openid.clone(),
        client_ip: req.client_ip.clone(),
        return_url: req.return_url.clone(),
    };
    let order = &order;
    // An earlier create of this order got no answer (or its process died during it):
    // the order may be at that provider, so it is settled there before anything else.
    let earlier = (matches!(row.status.as_str(), "creating" | "unknown")
        && !row.provider.is_empty())
    .then(|| row.provider.clone());
    if let Some(name) = earlier {
        let Some(slot) = manager.provider(Capability::Payment, &name) else {
            return Err(error::outcome_unknown(
                &name,
                "an earlier attempt went unanswered and the provider is no longer configured",
            ));
        };
        match settle(manager, &slot, order).await {
            Settled::There(started) => return Ok((row, name, started)),
            Settled::NotThere => {}
            Settled::Unknown(why) => {
                set_status(&kernel.db, row.id, "unknown", None).await?;
                return Err(error::outcome_unknown(&name, &why));
            }
        }
    }
    let mut tried = Vec::new();
    for slot in candidates {
        let name = slot.config.name.clone();
        set_status(&kernel.db, row.id, "creating", Some(&name)).await?;
        let created = manager
            .attempt(&slot, |s| async move {
                s.payment().ok_or_else(not_payment)?.create(order).await
            })
            .await;
        match created {
            Ok(started) => return Ok((row, name, started)),
            Err(ProviderError::Rejected { code, message }) => {
                set_status(&kernel.db, row.id, "failed", None).await?;
                return Err(error::rejected("PAYMENT_REJECTED", &name, &code, &message));
            }
            Err(ProviderError::Unavailable(e)) => tried.push((name, e)),
            // It may exist there: ask before going anywhere else.
            Err(ProviderError::Ambiguous(e)) => match settle(manager, &slot, order).await {
                Settled::There(started) => return Ok((row, name, started)),
                Settled::NotThere => tried.push((name, e)),
                Settled::Unknown(why) => {
                    set_status(&kernel.db, row.id, "unknown", None).await?;
                    return Err(error::outcome_unknown(&name, &format!("{e}; then {why}")));
                }
            },
        }
    }
    set_status(&kernel.db, row.id, "failed", None).await?;
    Err(error::payment_unavailable(
        &tried,
        "every payment provider is unavailable".into(),
    ))
}

/// Where an unanswered create stands at its provider.
enum Settled {
    /// The order is there: created again (idempotent at the provider), its answer.
    There(PaymentStarted),
    /// The provider has no such order: another may take it.
    NotThere,
    /// It could not be told; nothing may go elsewhere.
    Unknown(String),
}

async fn settle(manager: &Manager, slot: &Slot, order: &PaymentOrder) -> Settled {
    let known = manager
        .attempt(slot, |s| async move {
            s.payment()
                .ok_or_else(not_payment)?
                .query(&order.out_trade_no)
                .await
        })
        .await;
    match known {
        Ok(None) => Settled::NotThere,
        Ok(Some(_)) => {
            let again = manager
                .attempt(slot, |s| async move {
                    s.payment().ok_or_else(not_payment)?.create(order).await
                })
                .await;
            match again {
                Ok(started) => Settled::There(started),
                Err(e) => Settled::Unknown(e.to_string()),
            }
        }
        Err(q) => Settled::Unknown(format!("asking it failed: {q}")),
    }
}

fn not_payment() -> ProviderError {
    ProviderError::Unavailable("not a payment provider".into())
}

/// The second phase: the provider's answer on the row, and the audit record.
pub async fn record_created(
    txn: &sea_orm::DatabaseTransaction,
    ctx: &RequestContext,
    actor: &Actor,
    row: payment::Model,
    provider: String,
    started: PaymentStarted,
) -> AppResult<PaymentView> {
    let now = Utc::now();
    let mut active: payment::ActiveModel = row.into();
    active.provider = Set(provider.clone());
    active.status = Set("pending".into());
    active.client_data = Set(started.client_data);
    active.updated_at = Set(now);
    let saved = active.update(txn).await?;
    audit::record(
        txn,
        ctx,
        actor,
        Change {
            tenant_id: saved.tenant_id,
            action: "integrations.payment.create",
            target_type: "payment",
            target_id: saved.id.to_string(),
            summary: json!({ "out_trade_no": saved.out_trade_no, "provider": provider, "channel": saved.channel, "amount": saved.amount }),
        },
    )
    .await?;
    Ok(view(saved))
}

pub async fn find(kernel: &Kernel, tenant: i64, id: i64) -> AppResult<payment::Model> {
    payment::Entity::find_by_id(id)
        .filter(payment::Column::TenantId.eq(tenant))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("payment"))
}

fn provider_of(manager: &Manager, p: &payment::Model) -> AppResult<Slot> {
    manager
        .provider(Capability::Payment, &p.provider)
        .ok_or_else(|| {
            error::payment_unavailable(
                &[],
                format!("provider `{}` is no longer configured", p.provider),
            )
        })
}

/// Is `next` a step forward from `current`? (A late "pending" never undoes "paid".)
fn advances(current: &str, next: &str) -> bool {
    let rank = |s: &str| match s {
        "creating" | "unknown" | "failed" => 0,
        "pending" => 1,
        "paid" | "closed" => 2,
        "partially_refunded" => 3,
        "refunded" => 4,
        _ => 0,
    };
    rank(next) > rank(current)
}

/// Asks the provider and records what changed.
pub async fn refresh(
    kernel: &Kernel,
    manager: &Manager,
    ctx: &RequestContext,
    actor: &Actor,
    p: payment::Model,
) -> AppResult<payment::Model> {
    let slot = provider_of(manager, &p)?;
    let no = p.out_trade_no.clone();
    let state = manager
        .attempt(&slot, |s| async move {
            s.payment().ok_or_else(not_payment)?.query(&no).await
        })
        .await
        .map_err(|e| error::provider_error(&p.provider, e))?;
    let Some(state) = state else {
        return Ok(p);
    };
    if !advances(&p.status, state.status) {
        return Ok(p);
    }
    let txn = kernel.db.begin().await?;
    let saved = apply_state(
        &txn,
        ctx,
        actor,
        &p,
        state.status,
        state.provider_trade_no.as_deref(),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

async fn apply_state<C: ConnectionTrait>(
    db: &C,
    ctx: &RequestContext,
    actor: &Actor,
    p: &payment::Model,
    status: &str,
    provider_trade_no: Option<&str>,
) -> AppResult<payment::Model> {
    let now = Utc::now();
    let mut active: payment::ActiveModel = p.clone().into();
    active.status = Set(status.into());
    if provider_trade_no.is_some() {
        active.provider_trade_no = Set(provider_trade_no.map(str::to_string));
    }
    if status == "paid" && p.paid_at.is_none() {
        active.paid_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    let saved = active.update(db).await?;
    audit::record(
        db,
        ctx,
        actor,
        Change {
            tenant_id: p.tenant_id,
            action: "integrations.payment.status",
            target_type: "payment",
            target_id: p.id.to_string(),
            summary: json!({ "out_trade_no": p.out_trade_no, "from": p.status, "to": status }),
        },
    )
    .await?;
    Ok(saved)
}

pub async fn close(
    kernel: &Kernel,
    manager: &Manager,
    ctx: &RequestContext,
    actor: &Actor,
    p: payment::Model,
) -> AppResult<payment::Model> {
    if p.status != "pending" {
        return Err(
            AppError::conflict("PAYMENT_NOT_OPEN", "only a pending payment can be closed")
                .with_details(json!({ "status": p.status })),
        );
    }
    let slot = provider_of(manager, &p)?;
    let no = p.out_trade_no.clone();
    manager
        .attempt(&slot, |s| async move {
            s.payment().ok_or_else(not_payment)?.close(&no).await
        })
        .await
        .map_err(|e| error::provider_error(&p.provider, e))?;
    let txn = kernel.db.begin().await?;
    let saved = apply_state(&txn, ctx, actor, &p, "closed", None).await?;
    txn.commit().await?;
    Ok(saved)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// In fen; at most what is left of the payment.
    pub amount: i64,
    pub reason: Option<String>,
    /// Your refund number (6–32 of `A–Z a–z 0–9 _ -`); generated when absent.
    pub out_refund_no: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub payment_id: i64,
    pub out_refund_no: String,
    pub amount: i64,
    pub reason: Option<String>,
    /// processing, success, closed or abnormal.
    pub status: String,
    pub provider_refund_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
}

pub fn refund_view(r: refund::Model) -> RefundView {
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

/// The first phase of a refund: checks, the refund row, the provider (refunds are
/// idempotent on `out_refund_no`, so an ambiguous answer is asked once more).
pub async fn start_refund(
    kernel: &Kernel,
    manager: &Manager,
    p: &payment::Model,
    req: &NewRefund,
    refund_no: String,
) -> AppResult<(refund::Model, crate::providers::RefundState)> {
    let mut errors = FieldErrors::new();
    if req.amount <= 0 {
        errors.add("amount", "a positive amount in fen");
    }
    if req
        .out_refund_no
        .as_deref()
        .is_some_and(|n| !valid_order_no(n))
    {
        errors.add("out_refund_no", "6 to 32 of A–Z a–z 0–9 _ -");
    }
    if req
        .reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > 80)
    {
        errors.add("reason", "at most 80 characters");
    }
    errors.into_result()?;
    let existing = refund::Entity::find()
        .filter(refund::Column::OutRefundNo.eq(&refund_no))
        .one(&kernel.db)
        .await?;
    match &existing {
        // The same refund again (a retry): already checked and counted once.
        Some(r) if r.payment_id == p.id && r.amount == req.amount => {}
        Some(_) => {
            return Err(AppError::conflict(
                "OUT_REFUND_NO_TAKEN",
                "this out_refund_no is already used",
            ))
        }
        None => {
            if !matches!(p.status.as_str(), "paid" | "partially_refunded") {
                return Err(AppError::conflict(
                    "PAYMENT_NOT_PAID",
                    "only a paid payment can be refunded",
                )
                .with_details(json!({ "status": p.status })));
            }
            let left = p.amount - p.refunded_amount;
            if req.amount > left {
                return Err(AppError::conflict(
                    "REFUND_EXCEEDS_PAYMENT",
                    "the refund is more than what is left of the payment",
                )
                .with_details(json!({ "refundable": left })));
            }
        }
    }
    let row = match existing {
        Some(r) => r,
        None => {
            let now = Utc::now();
            refund::ActiveModel {
                tenant_id: Set(p.tenant_id),
                payment_id: Set(p.id),
                out_refund_no: Set(refund_no.clone()),
                amount: Set(req.amount),
                reason: Set(req.reason.clone()),
                status: Set("processing".into()),
                provider_refund_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&kernel.db)
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

pub async fn record_refund(
    txn: &sea_orm::DatabaseTransaction,
    ctx: &RequestContext,
    actor: &Actor,
    p: &payment::Model,
    row: refund::Model,
    state: crate::providers::RefundState,
) -> AppResult<RefundView> {
    let now = Utc::now();
    let mut active: refund::ActiveModel = row.clone().into();
    active.status = Set(state.status.into());
    active.provider_refund_id = Set(state.provider_refund_id.clone());
    active.updated_at = Set(now);
    let saved = active.update(txn).await?;
    if row.status == "processing" && matches!(state.status, "success" | "processing") {
        // Counted once, when the refund is first accepted, on the payment as it is now.
        let current = payment::Entity::find_by_id(p.id)
            .one(txn)
            .await?
            .ok_or_else(|| AppError::not_found("payment"))?;
        let refunded = current.refunded_amount + row.amount;
        let status = if refunded >= p.amount {
            "refunded"
        } else {
            "partially_refunded"
        };
        payment::Entity::update_many()
            .col_expr(payment::Column::RefundedAmount, Expr::value(refunded))
            .col_expr(payment::Column::Status, Expr::value(status))
            .col_expr(payment::Column::UpdatedAt, Expr::value(now))
            .filter(payment::Column::Id.eq(p.id))
            .exec(txn)
            .await?;
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
            summary: json!({ "out_refund_no": saved.out_refund_no, "amount": saved.amount, "status": saved.status }),
        },
    )
    .await?;
    Ok(refund_view(saved))
}

/// What to answer a provider's notification with.
pub struct CallbackReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Verifies a notification with the provider(s) of `kind`, stores it once per provider
/// event and applies it to the payment. A replay is acknowledged with no second effect;
/// a forgery is refused as the provider expects.
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
        None => Err(AppError::not_found("payment provider")),
    }
}

async fn apply_event(
    kernel: &Kernel,
    ctx: &RequestContext,
    provider: &str,
    event: crate::providers::PaymentEvent,
) -> AppResult<&'static str> {
    let txn = kernel.db.begin().await?;
    let payment = payment::Entity::find()
        .filter(payment::Column::OutTradeNo.eq(&event.out_trade_no))
        .filter(payment::Column::Provider.eq(provider))
        .one(&txn)
        .await?;
    let key = format!("{provider}:{}:{}", event.kind, event.event_id);
    let inserted = callback_event::Entity::insert(callback_event::ActiveModel {
        provider: Set(provider.into()),
        event_key: Set(key),
        tenant_id: Set(payment.as_ref().map(|p| p.tenant_id).unwrap_or(0)),
        payment_id: Set(payment.as_ref().map(|p| p.id)),
        kind: Set(event.kind.into()),
        payload: Set(event.payload.clone()),
        received_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(callback_event::Column::EventKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        txn.rollback().await?;
        return Ok("duplicate");
    }
    if let Some(p) = payment {
        let amount_ok = event.state.paid_amount.is_none_or(|paid| paid == p.amount);
        if !amount_ok {
            tracing::warn!(out_trade_no = %p.out_trade_no, "notified amount differs from the order; not applied");
        } else if event.kind == "payment" && advances(&p.status, event.state.status) {
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
    } else {
        tracing::warn!(out_trade_no = %event.out_trade_no, provider, "notification for an unknown order kept");
    }
    txn.commit().await?;
    Ok("applied")
}
