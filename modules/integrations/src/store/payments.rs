//! Payments, their refunds, and the providers' notifications about them.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Select, Set,
};
use serde_json::{json, Value};

use super::Unique;
use crate::entities::{callback_event, payment, refund};
use crate::providers::{Channel, PaymentEvent, RefundState};
use crate::service::states::{PaymentStatus, RefundStatus};

pub async fn payment<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
) -> Result<Option<payment::Model>, DbErr> {
    payment::Entity::find_by_id(id)
        .filter(payment::Column::TenantId.eq(tenant))
        .one(db)
        .await
}

pub async fn payment_by_order_no<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    out_trade_no: &str,
) -> Result<Unique<payment::Model>, DbErr> {
    let row = payment::Entity::find()
        .filter(payment::Column::OutTradeNo.eq(out_trade_no))
        .one(db)
        .await?;
    Ok(Unique::of(row, tenant, |p| p.tenant_id))
}

/// The tenant's payments, with this status when one is given (for a page of them).
pub fn payments(tenant: i64, status: Option<PaymentStatus>) -> Select<payment::Entity> {
    let query = payment::Entity::find().filter(payment::Column::TenantId.eq(tenant));
    match status {
        Some(status) => query.filter(payment::Column::Status.eq(status)),
        None => query,
    }
}

/// A payment order about to be sent to the providers.
pub struct NewPaymentRow<'a> {
    pub tenant: i64,
    pub channel: Channel,
    pub out_trade_no: &'a str,
    pub amount: i64,
    pub description: &'a str,
}

/// The row of a new order, `creating`, at no provider yet.
pub async fn insert_payment<C: ConnectionTrait>(
    db: &C,
    new: NewPaymentRow<'_>,
) -> Result<payment::Model, DbErr> {
    let now = Utc::now();
    payment::ActiveModel {
        tenant_id: Set(new.tenant),
        provider: Set(String::new()),
        channel: Set(new.channel.as_str().into()),
        out_trade_no: Set(new.out_trade_no.into()),
        amount: Set(new.amount),
        currency: Set("CNY".into()),
        description: Set(new.description.into()),
        status: Set(PaymentStatus::Creating),
        provider_trade_no: Set(None),
        client_data: Set(json!({})),
        refunded_amount: Set(0),
        paid_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Moves a payment being created to `status` (and to `provider` when given).
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    p: &payment::Model,
    status: PaymentStatus,
    provider: Option<&str>,
) -> Result<(), DbErr> {
    let mut update = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status))
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(provider) = provider {
        update = update.col_expr(payment::Column::Provider, Expr::value(provider));
    }
    update
        .filter(payment::Column::Id.eq(p.id))
        .filter(payment::Column::TenantId.eq(p.tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A created payment: at `provider`, pending, with what the payer's client needs.
pub async fn save_created<C: ConnectionTrait>(
    db: &C,
    p: payment::Model,
    provider: &str,
    client_data: Value,
) -> Result<payment::Model, DbErr> {
    let mut active: payment::ActiveModel = p.into();
    active.provider = Set(provider.into());
    active.status = Set(PaymentStatus::Pending);
    active.client_data = Set(client_data);
    active.updated_at = Set(Utc::now());
    active.update(db).await
}

/// A new state of a payment (paid on first reaching `paid`).
pub async fn save_state<C: ConnectionTrait>(
    db: &C,
    p: &payment::Model,
    status: PaymentStatus,
    provider_trade_no: Option<&str>,
) -> Result<payment::Model, DbErr> {
    let now = Utc::now();
    let mut active: payment::ActiveModel = p.clone().into();
    active.status = Set(status);
    if let Some(no) = provider_trade_no {
        active.provider_trade_no = Set(Some(no.into()));
    }
    if status == PaymentStatus::Paid && p.paid_at.is_none() {
        active.paid_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    active.update(db).await
}

/// The payment as it is now (inside a transaction: before counting a refund on it).
pub async fn current<C: ConnectionTrait>(
    db: &C,
    p: &payment::Model,
) -> Result<Option<payment::Model>, DbErr> {
    payment(db, p.tenant_id, p.id).await
}

/// The refunded total of a payment and its status after a refund.
pub async fn set_refunded<C: ConnectionTrait>(
    db: &C,
    p: &payment::Model,
    refunded: i64,
    status: PaymentStatus,
) -> Result<(), DbErr> {
    payment::Entity::update_many()
        .col_expr(payment::Column::RefundedAmount, Expr::value(refunded))
        .col_expr(payment::Column::Status, Expr::value(status))
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment::Column::Id.eq(p.id))
        .filter(payment::Column::TenantId.eq(p.tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn refund_by_no<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    out_refund_no: &str,
) -> Result<Unique<refund::Model>, DbErr> {
    let row = refund::Entity::find()
        .filter(refund::Column::OutRefundNo.eq(out_refund_no))
        .one(db)
        .await?;
    Ok(Unique::of(row, tenant, |r| r.tenant_id))
}

/// The row of a refund about to be sent to the payment's provider, `processing`.
pub async fn insert_refund<C: ConnectionTrait>(
    db: &C,
    p: &payment::Model,
    out_refund_no: &str,
    amount: i64,
    reason: Option<&str>,
) -> Result<refund::Model, DbErr> {
    let now = Utc::now();
    refund::ActiveModel {
        tenant_id: Set(p.tenant_id),
        payment_id: Set(p.id),
        out_refund_no: Set(out_refund_no.into()),
        amount: Set(amount),
        reason: Set(reason.map(str::to_string)),
        status: Set(RefundStatus::Processing),
        provider_refund_id: Set(None),
        counted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The provider's answer on the refund's row.
pub async fn save_refund_state<C: ConnectionTrait>(
    db: &C,
    row: refund::Model,
    state: &RefundState,
) -> Result<refund::Model, DbErr> {
    let mut active: refund::ActiveModel = row.into();
    active.status = Set(state.status);
    active.provider_refund_id = Set(state.provider_refund_id.clone());
    active.updated_at = Set(Utc::now());
    active.update(db).await
}

/// Marks a refund counted on its payment; true for the one caller that does so (a
/// conditional update), so concurrent or repeated answers count it once.
pub async fn count_refund<C: ConnectionTrait>(db: &C, refund_id: i64) -> Result<bool, DbErr> {
    let marked = refund::Entity::update_many()
        .col_expr(refund::Column::CountedAt, Expr::value(Utc::now()))
        .filter(refund::Column::Id.eq(refund_id))
        .filter(refund::Column::CountedAt.is_null())
        .exec(db)
        .await?;
    Ok(marked.rows_affected == 1)
}

/// The order a provider's notification names, whatever its tenant: the notification
/// carries no tenant, and the order number is unique across tenants.
pub async fn payment_for_notification<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    out_trade_no: &str,
) -> Result<Option<payment::Model>, DbErr> {
    payment::Entity::find()
        .filter(payment::Column::OutTradeNo.eq(out_trade_no))
        .filter(payment::Column::Provider.eq(provider))
        .one(db)
        .await
}

/// Keeps a verified notification once per provider event; false when it was kept
/// before (a replay).
pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    event: &PaymentEvent,
    payment: Option<&payment::Model>,
) -> Result<bool, DbErr> {
    let key = format!("{provider}:{}:{}", event.kind.as_str(), event.event_id);
    let inserted = callback_event::Entity::insert(callback_event::ActiveModel {
        provider: Set(provider.into()),
        event_key: Set(key),
        // An order nobody knows is kept under the platform (tenant 0).
        tenant_id: Set(payment.map(|p| p.tenant_id).unwrap_or(0)),
        payment_id: Set(payment.map(|p| p.id)),
        kind: Set(event.kind.as_str().into()),
        payload: Set(event.payload.clone()),
        received_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(callback_event::Column::EventKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}
