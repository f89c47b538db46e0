//! Delivery to the desktop agents (docs/customer-service.md, "Agent protocol"): the
//! outbox offers a shop's ready replies, oldest first, each leased to the calling
//! agent for `cs.outbox_lease_secs` (60 s) so no other agent gets it meanwhile; the
//! agent acknowledges `sent` (never offered again) or `failed` (offered again, up to
//! `cs.delivery_max_attempts`, then handed to a person). An unacknowledged reply is
//! offered again when its lease runs out. Heartbeats say which agents are alive.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::auth::{AuthMethod, Principal};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{tr, validate, AppResult};
use utoipa::ToSchema;

use super::messages;
use super::states::Delivery;
use crate::entities::{agent, message};
use crate::error::Code;

/// The calling agent's name on a lease: its API token, else its user.
pub fn holder(principal: &Principal) -> String {
    match &principal.method {
        AuthMethod::ApiToken { token_id, .. } => format!("token:{token_id}"),
        AuthMethod::Session { .. } => format!("user:{}", principal.user_id),
    }
}

/// A reply for the agent to type.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxItem {
    pub message_id: i64,
    pub shop_id: i64,
    pub customer_id: String,
    /// What to type.
    pub text: String,
    /// Seconds to wait before typing (the shop's `reply_delay`).
    pub reply_delay: i64,
    /// Acknowledge before this, or the reply is offered to other agents again.
    pub lease_until: DateTime<Utc>,
    /// Earlier failed attempts.
    pub attempts: i64,
}

/// Not leased, or its lease has lapsed. A reply the caller already holds is not
/// offered again while its lease runs: the agent may be waiting out `reply_delay`, and
/// a second copy could be typed twice.
fn free(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(message::Column::LeaseUntil.is_null())
        .add(message::Column::LeaseUntil.lt(now))
}

/// Leases up to `limit` of the shop's ready replies to `holder`, oldest first. Each
/// lease is a conditional write: of two agents polling at once, each reply goes to one.
pub async fn take<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    shop: i64,
    reply_delay: i64,
    holder: &str,
    limit: u64,
    lease: Duration,
) -> AppResult<Vec<OutboxItem>> {
    let now = Utc::now();
    let candidates = message::Entity::find()
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::ShopId.eq(shop))
        .filter(message::Column::Delivery.eq(Delivery::Ready))
        .filter(free(now))
        .order_by_asc(message::Column::ReadyAt)
        .order_by_asc(message::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let until = now + lease;
    let mut items = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let taken = message::Entity::update_many()
            .col_expr(message::Column::LeaseHolder, Expr::value(holder))
            .col_expr(message::Column::LeaseUntil, Expr::value(until))
            .col_expr(message::Column::UpdatedAt, Expr::value(now))
            .filter(message::Column::Id.eq(candidate.id))
            .filter(message::Column::Delivery.eq(Delivery::Ready))
            .filter(free(now))
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if !taken {
            continue;
        }
        if candidate.lease_holder.as_deref() != Some(holder)
            || candidate.lease_until.is_none_or(|t| t < now)
        {
            messages::event(
                db,
                &candidate,
                "offered",
                holder,
                json!({ "lease_until": until }),
            )
            .await?;
        }
        items.push(OutboxItem {
            message_id: candidate.id,
            shop_id: candidate.shop_id,
            customer_id: candidate.customer_id,
            text: candidate.reply_text.unwrap_or_default(),
            reply_delay,
            lease_until: until,
            attempts: candidate.delivery_attempts,
        });
    }
    Ok(items)
}

/// What the agent did with a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckResult {
    Sent,
    Failed,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub result: AckResult,
    /// Why it failed (the window was not found, typing was refused …).
    #[schema(max_length = 500)]
    pub error: Option<String>,
}

/// Records the agent's outcome for a reply it holds. `sent` twice by the same agent
/// is answered as the first time.
pub async fn ack<C: ConnectionTrait>(
    db: &C,
    current: &message::Model,
    holder: &str,
    ack: &Ack,
    max_attempts: i64,
) -> AppResult<message::Model> {
    let mut errors = FieldErrors::new();
    if let Some(error) = &ack.error {
        validate::free_text("error", error, 500, &mut errors);
    }
    errors.into_result()?;
    let mine = current.lease_holder.as_deref() == Some(holder);
    if mine && current.delivery == Delivery::Sent && ack.result == AckResult::Sent {
        return Ok(current.clone());
    }
    let now = Utc::now();
    let attempts = current.delivery_attempts + 1;
    let (delivery, kind) = match ack.result {
        AckResult::Sent => (Delivery::Sent, "sent"),
        AckResult::Failed if attempts >= max_attempts => (Delivery::Failed, "delivery_failed"),
        AckResult::Failed => (Delivery::Ready, "send_failed"),
    };
    let mut update = message::Entity::update_many()
        .col_expr(message::Column::Delivery, Expr::value(delivery))
        .col_expr(message::Column::DeliveryAttempts, Expr::value(attempts))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(current.id))
        .filter(message::Column::Delivery.eq(Delivery::Ready))
        .filter(message::Column::LeaseHolder.eq(holder))
        .filter(message::Column::LeaseUntil.gte(now));
    update = match ack.result {
        AckResult::Sent => update.col_expr(message::Column::SentAt, Expr::value(now)),
        // Offered again at once (to any agent), or never again once handed over.
        AckResult::Failed => update
            .col_expr(
                message::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                message::Column::DeliveryError,
                Expr::value(ack.error.clone()),
            ),
    };
    if update.exec(db).await?.rows_affected == 0 {
        return Err(Code::LeaseNotHeld
            .err()
            .with_details(json!({ "delivery": current.delivery })));
    }
    let after = message::Entity::find_by_id(current.id)
        .one(db)
        .await?
        .ok_or_else(|| shopops_kernel::AppError::not_found("cs_message"))?;
    messages::event(
        db,
        &after,
        kind,
        holder,
        json!({ "attempts": attempts, "error": ack.error }),
    )
    .await?;
    Ok(after)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The shops the agent watches (each must be one of the caller's).
    #[schema(max_items = 100)]
    pub shop_ids: Vec<i64>,
    #[schema(min_length = 1, max_length = 64)]
    pub version: String,
    /// The machine's name.
    #[schema(min_length = 1, max_length = 128)]
    pub host: String,
}

/// Records a heartbeat (one row per user and host).
pub async fn heartbeat<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    beat: &Heartbeat,
    allowed: impl Fn(i64) -> bool,
) -> AppResult<agent::Model> {
    let mut errors = FieldErrors::new();
    validate::display_name("host", &beat.host, &mut errors);
    validate::display_name("version", &beat.version, &mut errors);
    if beat.shop_ids.len() > 100 {
        errors.add("shop_ids", tr!("最多 100 个店铺", "at most 100 shops"));
    }
    let foreign: Vec<i64> = beat
        .shop_ids
        .iter()
        .copied()
        .filter(|s| !allowed(*s))
        .collect();
    if !foreign.is_empty() {
        let foreign = format!("{foreign:?}");
        errors.add(
            "shop_ids",
            tr!("{foreign} 不是你的店铺", "{foreign} are not shops of yours"),
        );
    }
    errors.into_result()?;
    let now = Utc::now();
    let host = beat.host.trim().to_string();
    let existing = agent::Entity::find()
        .filter(agent::Column::TenantId.eq(principal.tenant_id))
        .filter(agent::Column::UserId.eq(principal.user_id))
        .filter(agent::Column::Host.eq(host.clone()))
        .one(db)
        .await?;
    let known = existing.is_some();
    let mut model = match existing {
        Some(a) => agent::ActiveModel::from(a),
        None => agent::ActiveModel {
            tenant_id: Set(principal.tenant_id),
            user_id: Set(principal.user_id),
            host: Set(host),
            created_at: Set(now),
            ..Default::default()
        },
    };
    model.version = Set(beat.version.trim().to_string());
    model.shop_ids = Set(json!(beat.shop_ids));
    model.last_seen = Set(now);
    Ok(if known {
        model.update(db).await?
    } else {
        model.insert(db).await?
    })
}
