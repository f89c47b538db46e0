//! The SMS outbox: messages, their sending claims and attempts, their delivery checks.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use super::Unique;
use crate::entities::sms_outbox;
use crate::service::states::{Delivery, SmsStatus};

type Time = DateTime<Utc>;

pub async fn by_message_id<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    message_id: &str,
) -> Result<Unique<sms_outbox::Model>, DbErr> {
    let row = sms_outbox::Entity::find()
        .filter(sms_outbox::Column::MessageId.eq(message_id))
        .one(db)
        .await?;
    Ok(Unique::of(row, tenant, |m| m.tenant_id))
}

/// A message as it is now.
pub async fn reload<C: ConnectionTrait>(
    db: &C,
    row: &sms_outbox::Model,
) -> Result<Option<sms_outbox::Model>, DbErr> {
    sms_outbox::Entity::find_by_id(row.id)
        .filter(sms_outbox::Column::TenantId.eq(row.tenant_id))
        .one(db)
        .await
}

/// A message to store, the phone already encrypted and indexed.
pub struct NewMessage {
    pub tenant: i64,
    pub message_id: String,
    pub phone_enc: String,
    pub phone_index: String,
    pub template: String,
    pub params: Value,
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewMessage,
) -> Result<sms_outbox::Model, DbErr> {
    sms_outbox::ActiveModel {
        tenant_id: Set(new.tenant),
        message_id: Set(new.message_id),
        phone_enc: Set(new.phone_enc),
        phone_index: Set(new.phone_index),
        template: Set(new.template),
        params: Set(new.params),
        status: Set(SmsStatus::Pending),
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
    }
    .insert(db)
    .await
}

/// The pending messages whose time has come, oldest first, of every tenant (the
/// outbox job sends for all).
pub async fn due<C: ConnectionTrait>(
    db: &C,
    now: Time,
    limit: u64,
) -> Result<Vec<sms_outbox::Model>, DbErr> {
    sms_outbox::Entity::find()
        .filter(sms_outbox::Column::Status.eq(SmsStatus::Pending))
        .filter(
            Condition::any()
                .add(sms_outbox::Column::NextAttemptAt.is_null())
                .add(sms_outbox::Column::NextAttemptAt.lte(now)),
        )
        .order_by_asc(sms_outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Claims a pending, due message for one attempt, leased `until`: true when this
/// caller won it (its attempt count moved on, so no one else can).
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    row: &sms_outbox::Model,
    now: Time,
    until: Time,
) -> Result<bool, DbErr> {
    let claimed = sms_outbox::Entity::update_many()
        .col_expr(sms_outbox::Column::Attempts, Expr::value(row.attempts + 1))
        .col_expr(sms_outbox::Column::NextAttemptAt, Expr::value(until))
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::TenantId.eq(row.tenant_id))
        .filter(sms_outbox::Column::Status.eq(SmsStatus::Pending))
        .filter(sms_outbox::Column::Attempts.eq(row.attempts))
        .filter(
            Condition::any()
                .add(sms_outbox::Column::NextAttemptAt.is_null())
                .add(sms_outbox::Column::NextAttemptAt.lte(now)),
        )
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// How one attempt ended.
pub enum Attempt {
    Sent {
        provider: String,
        provider_message_id: String,
        at: Time,
        first_check: Time,
    },
    /// A provider refused it.
    Rejected { provider: String, error: String },
    /// It may have reached `provider`: never sent again.
    Unknown { provider: String, error: String },
    /// No provider could; given up.
    Dead { error: String },
    /// No provider could; tried again `at`.
    Retry { at: Time, error: String },
}

/// Records attempt number `attempts` — only while this sender's claim holds.
pub async fn record_attempt<C: ConnectionTrait>(
    db: &C,
    row: &sms_outbox::Model,
    attempts: i64,
    attempt: Attempt,
) -> Result<(), DbErr> {
    let none_time = Expr::value(Option::<Time>::None);
    let update = sms_outbox::Entity::update_many()
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::TenantId.eq(row.tenant_id))
        .filter(sms_outbox::Column::Attempts.eq(attempts));
    let update = match attempt {
        Attempt::Sent {
            provider,
            provider_message_id,
            at,
            first_check,
        } => update
            .col_expr(sms_outbox::Column::Status, Expr::value(SmsStatus::Sent))
            .col_expr(sms_outbox::Column::Provider, Expr::value(provider))
            .col_expr(
                sms_outbox::Column::ProviderMessageId,
                Expr::value(provider_message_id),
            )
            .col_expr(sms_outbox::Column::SentAt, Expr::value(at))
            .col_expr(
                sms_outbox::Column::DeliveryNextCheckAt,
                Expr::value(first_check),
            )
            .col_expr(sms_outbox::Column::NextAttemptAt, none_time)
            .col_expr(
                sms_outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            ),
        Attempt::Rejected { provider, error } => update
            .col_expr(sms_outbox::Column::Status, Expr::value(SmsStatus::Rejected))
            .col_expr(sms_outbox::Column::Provider, Expr::value(provider))
            .col_expr(sms_outbox::Column::LastError, Expr::value(error)),
        Attempt::Unknown { provider, error } => update
            .col_expr(sms_outbox::Column::Status, Expr::value(SmsStatus::Unknown))
            .col_expr(sms_outbox::Column::Provider, Expr::value(provider))
            .col_expr(sms_outbox::Column::LastError, Expr::value(error)),
        Attempt::Dead { error } => update
            .col_expr(sms_outbox::Column::Status, Expr::value(SmsStatus::Dead))
            .col_expr(sms_outbox::Column::LastError, Expr::value(error)),
        Attempt::Retry { at, error } => update
            .col_expr(sms_outbox::Column::NextAttemptAt, Expr::value(at))
            .col_expr(sms_outbox::Column::LastError, Expr::value(error)),
    };
    update.exec(db).await?;
    Ok(())
}

/// The sent messages whose delivery check is due, soonest due first, of every tenant
/// (the report job checks for all).
pub async fn reports_due<C: ConnectionTrait>(
    db: &C,
    now: Time,
    limit: u64,
) -> Result<Vec<sms_outbox::Model>, DbErr> {
    sms_outbox::Entity::find()
        .filter(sms_outbox::Column::DeliveryNextCheckAt.lte(now))
        .filter(sms_outbox::Column::Status.eq(SmsStatus::Sent))
        .filter(sms_outbox::Column::Delivery.is_null())
        .order_by_asc(sms_outbox::Column::DeliveryNextCheckAt)
        .limit(limit)
        .all(db)
        .await
}

/// Claims a due check by moving it to `until`: true when this caller won it.
pub async fn claim_check<C: ConnectionTrait>(
    db: &C,
    row: &sms_outbox::Model,
    now: Time,
    until: Time,
) -> Result<bool, DbErr> {
    let claimed = sms_outbox::Entity::update_many()
        .col_expr(sms_outbox::Column::DeliveryNextCheckAt, Expr::value(until))
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::TenantId.eq(row.tenant_id))
        .filter(sms_outbox::Column::DeliveryNextCheckAt.lte(now))
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// A check made `at`: the provider's final report, or none yet and the next check
/// (none: no more checks).
pub async fn save_check<C: ConnectionTrait>(
    db: &C,
    row: &sms_outbox::Model,
    at: Time,
    report: Option<(Delivery, String)>,
    next: Option<Time>,
) -> Result<(), DbErr> {
    let mut update = sms_outbox::Entity::update_many()
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::TenantId.eq(row.tenant_id))
        .col_expr(sms_outbox::Column::DeliveryCheckedAt, Expr::value(at))
        .col_expr(sms_outbox::Column::DeliveryNextCheckAt, Expr::value(next));
    if let Some((delivery, detail)) = report {
        update = update
            .col_expr(sms_outbox::Column::Delivery, Expr::value(delivery))
            .col_expr(sms_outbox::Column::DeliveryDetail, Expr::value(detail));
    }
    update.exec(db).await?;
    Ok(())
}

/// Moves the next check of a message (none: no more checks).
pub async fn set_next_check<C: ConnectionTrait>(
    db: &C,
    row: &sms_outbox::Model,
    next: Option<Time>,
) -> Result<(), DbErr> {
    sms_outbox::Entity::update_many()
        .col_expr(sms_outbox::Column::DeliveryNextCheckAt, Expr::value(next))
        .filter(sms_outbox::Column::Id.eq(row.id))
        .filter(sms_outbox::Column::TenantId.eq(row.tenant_id))
        .exec(db)
        .await?;
    Ok(())
}
