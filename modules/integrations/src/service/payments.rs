//! Payments: create (failover across the providers that offer the channel, never after
//! an ambiguous write without asking that provider first), list, query, close. Refunds
//! are in [`super::refunds`], the providers' notifications in [`super::callbacks`].

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::pagination::{Order, Page, PageRequest};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::states::PaymentStatus;
use crate::config::Capability;
use crate::entities::payment;
use crate::error::{self, Code};
use crate::manager::{Manager, Slot};
use crate::providers::{Channel, PaymentOrder, PaymentStarted, ProviderError};
use crate::store::payments as store;
use crate::store::Unique;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub channel: Channel,
    /// In fen (1 yuan = 100).
    #[schema(minimum = 1, maximum = 100000000)]
    pub amount: i64,
    /// What the payer sees (1–127 characters).
    #[schema(min_length = 1, max_length = 127)]
    pub description: String,
    /// Your order number (6–32 of `A–Z a–z 0–9 _ -`); generated when absent.
    #[schema(min_length = 6, max_length = 32, pattern = "^[A-Za-z0-9_-]+$")]
    pub out_trade_no: Option<String>,
    /// Only this provider (by name); otherwise the highest-priority available one.
    #[schema(max_length = 64)]
    pub provider: Option<String>,
    /// JSAPI: the payer's openid.
    #[schema(max_length = 128)]
    pub openid: Option<String>,
    /// H5: the payer's IP address (IPv4 or IPv6).
    #[schema(max_length = 45)]
    pub client_ip: Option<String>,
    /// Page pay: where the payer returns (`http://` or `https://`).
    #[schema(max_length = 1024)]
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
    pub status: PaymentStatus,
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

/// An order or refund number the caller chose: 6–32 of `A–Z a–z 0–9 _ -`, as both
/// WeChat Pay and Alipay accept.
pub(super) fn order_no_rule(field: &str, no: &str, errors: &mut FieldErrors) {
    let ok = (6..=32).contains(&no.len())
        && no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        errors.add(
            field,
            tr!(
                "必须为 6 到 32 个 A–Z a–z 0–9 _ - 字符",
                "6 to 32 of A–Z a–z 0–9 _ -"
            ),
        );
    }
}

pub fn validate(req: &NewPayment) -> AppResult<()> {
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
    if req.description.is_empty() {
        errors.add(
            "description",
            tr!("必须为 1 到 127 个字符", "1 to 127 characters"),
        );
    }
    shopops_kernel::validate::free_text("description", &req.description, 127, &mut errors);
    if let Some(no) = &req.out_trade_no {
        order_no_rule("out_trade_no", no, &mut errors);
    }
    for (field, value, max) in [
        ("provider", &req.provider, 64),
        ("openid", &req.openid, 128),
        ("return_url", &req.return_url, 1024),
    ] {
        if let Some(value) = value {
            shopops_kernel::validate::free_text(field, value, max, &mut errors);
        }
    }
    if req
        .client_ip
        .as_deref()
        .is_some_and(|ip| !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err())
    {
        errors.add("client_ip", tr!("必须是 IP 地址", "must be an IP address"));
    }
    if req
        .return_url
        .as_deref()
        .is_some_and(|u| !(u.is_empty() || u.starts_with("https://") || u.starts_with("http://")))
    {
        errors.add(
            "return_url",
            tr!(
                "必须以 http:// 或 https:// 开头",
                "must start with http:// or https://"
            ),
        );
    }
    if req.channel == Channel::Jsapi && req.openid.as_deref().is_none_or(str::is_empty) {
        errors.add(
            "openid",
            tr!("jsapi 渠道必填", "required for the jsapi channel"),
        );
    }
    if req.channel == Channel::H5 && req.client_ip.as_deref().is_none_or(str::is_empty) {
        errors.add(
            "client_ip",
            tr!("h5 渠道必填", "required for the h5 channel"),
        );
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

/// The first phase of a create: the order row, then the providers. Runs outside any
/// transaction; the second phase ([`record_created`]) stores the outcome.
pub async fn start(
    kernel: &Kernel,
    manager: &Manager,
    tenant: i64,
    req: &NewPayment,
    order_no: String,
) -> AppResult<(payment::Model, String, PaymentStarted)> {
    let db = &kernel.db;
    let row = match store::payment_by_order_no(db, tenant, &order_no).await? {
        Unique::Taken => return Err(Code::OutTradeNoTaken.err()),
        // A retry of a create whose record was lost: the provider already has it.
        Unique::Mine(p) if p.status == PaymentStatus::Pending && !p.provider.is_empty() => {
            let data = PaymentStarted {
                client_data: p.client_data.clone(),
            };
            let provider = p.provider.clone();
            return Ok((p, provider, data));
        }
        // Not created yet, or not known to be: settled and tried again below.
        Unique::Mine(p) if p.status.may_create() => p,
        Unique::Mine(_) => return Err(Code::OutTradeNoTaken.err()),
        Unique::Free => {
            let new = store::NewPaymentRow {
                tenant,
                channel: req.channel,
                out_trade_no: &order_no,
                amount: req.amount,
                description: &req.description,
            };
            store::insert_payment(db, new).await?
        }
    };
    let candidates: Vec<Slot> = manager
        .candidates(Capability::Payment)
        .into_iter()
        .filter(|s| s.payment().is_some_and(|p| p.supports(req.channel)))
        .filter(|s| req.provider.as_deref().is_none_or(|n| n == s.config.name))
        .collect();
    if candidates.is_empty() {
        store::set_status(db, &row, PaymentStatus::Failed, None).await?;
        let channel = req.channel.as_str();
        return Err(error::payment_unavailable(
            &[],
            tr!(
                "没有启用的服务商提供 {channel} 渠道",
                "no enabled provider offers the {channel} channel"
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
    let unanswered = matches!(row.status, PaymentStatus::Creating | PaymentStatus::Unknown);
    if unanswered && !row.provider.is_empty() {
        let name = row.provider.clone();
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
                store::set_status(db, &row, PaymentStatus::Unknown, None).await?;
                return Err(error::outcome_unknown(&name, &why));
            }
        }
    }
    let mut tried = Vec::new();
    for slot in candidates {
        let name = slot.config.name.clone();
        store::set_status(db, &row, PaymentStatus::Creating, Some(&name)).await?;
        let created = manager
            .attempt(&slot, |s| async move {
                s.payment().ok_or_else(not_payment)?.create(order).await
            })
            .await;
        match created {
            Ok(started) => return Ok((row, name, started)),
            Err(ProviderError::Rejected { code, message }) => {
                store::set_status(db, &row, PaymentStatus::Failed, None).await?;
                return Err(error::rejected(
                    Code::PaymentRejected,
                    &name,
                    &code,
                    &message,
                ));
            }
            Err(ProviderError::Unavailable(e)) => tried.push((name, e)),
            // It may exist there: ask before going anywhere else.
            Err(ProviderError::Ambiguous(e)) => match settle(manager, &slot, order).await {
                Settled::There(started) => return Ok((row, name, started)),
                Settled::NotThere => tried.push((name, e)),
                Settled::Unknown(why) => {
                    store::set_status(db, &row, PaymentStatus::Unknown, None).await?;
                    return Err(error::outcome_unknown(&name, &format!("{e}; then {why}")));
                }
            },
        }
    }
    store::set_status(db, &row, PaymentStatus::Failed, None).await?;
    Err(error::payment_unavailable(
        &tried,
        tr!(
            "所有支付服务商都不可用",
            "every payment provider is unavailable"
        ),
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

/// A slot of the payment capability holds a payment adapter; this says it did not.
pub(super) fn not_payment() -> ProviderError {
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
    let saved = store::save_created(txn, row, &provider, started.client_data).await?;
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

/// A page of the tenant's payments, newest first, with the status `status` names
/// when it names one.
pub async fn list(
    kernel: &Kernel,
    tenant: i64,
    status: Option<&str>,
    page: PageRequest,
) -> AppResult<Page<PaymentView>> {
    let status = match status {
        None => None,
        Some(name) => match PaymentStatus::parse(name) {
            Some(status) => Some(status),
            // No payment has a status that does not exist: the empty page of any
            // filter that matches nothing.
            None => return Ok(Page::from_rows(Vec::new(), page, |v: &PaymentView| v.id)),
        },
    };
    let found = page
        .fetch(
            store::payments(tenant, status),
            payment::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |p| p.id,
        )
        .await?;
    Ok(found.map(view))
}

pub async fn find(kernel: &Kernel, tenant: i64, id: i64) -> AppResult<payment::Model> {
    store::payment(&kernel.db, tenant, id)
        .await?
        .ok_or_else(|| AppError::not_found("payment"))
}

/// The provider that took a payment (queries, closes and refunds go back to it).
pub(super) fn provider_of(manager: &Manager, p: &payment::Model) -> AppResult<Slot> {
    manager
        .provider(Capability::Payment, &p.provider)
        .ok_or_else(|| {
            let provider = &p.provider;
            error::payment_unavailable(
                &[],
                tr!(
                    "服务商 `{provider}` 已不在配置中",
                    "provider `{provider}` is no longer configured"
                ),
            )
        })
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
    if !p.status.advances_to(state.status) {
        return Ok(p);
    }
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
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

/// A new state of a payment, with its audit record.
pub(super) async fn apply_state<C: ConnectionTrait>(
    db: &C,
    ctx: &RequestContext,
    actor: &Actor,
    p: &payment::Model,
    status: PaymentStatus,
    provider_trade_no: Option<&str>,
) -> AppResult<payment::Model> {
    let saved = store::save_state(db, p, status, provider_trade_no).await?;
    audit::record(
        db,
        ctx,
        actor,
        Change {
            tenant_id: p.tenant_id,
            action: "integrations.payment.status",
            target_type: "payment",
            target_id: p.id.to_string(),
            summary: json!({ "out_trade_no": p.out_trade_no, "from": p.status.as_str(), "to": status.as_str() }),
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
    if p.status != PaymentStatus::Pending {
        return Err(Code::PaymentNotOpen
            .err()
            .with_details(json!({ "status": p.status.as_str() })));
    }
    let slot = provider_of(manager, &p)?;
    let no = p.out_trade_no.clone();
    manager
        .attempt(&slot, |s| async move {
            s.payment().ok_or_else(not_payment)?.close(&no).await
        })
        .await
        .map_err(|e| error::provider_error(&p.provider, e))?;
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let saved = apply_state(&txn, ctx, actor, &p, PaymentStatus::Closed, None).await?;
    txn.commit().await?;
    Ok(saved)
}
