//! Buyer messages: taking one in (once: an `Idempotency-Key`, or the same shop,
//! customer and normalised text within `cs.duplicate_window_secs`, is the same
//! message), reading them, and the writes every later step shares — a forward-only
//! status change with its event and audit record.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Select, Set, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::error::{Code as KernelCode, FieldErrors};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, validate, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::shops::ShopScope;
use super::states::{Delivery, MessageSource, MessageStatus};
use crate::entities::{message, message_event, shop};
use crate::retrieval::text;

pub const CONTENT_MAX_CHARS: usize = 2000;
pub const CUSTOMER_MAX_CHARS: usize = 64;

/// A message as a caller posts it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub shop_id: i64,
    /// The buyer's id in the chat.
    #[schema(min_length = 1, max_length = 64)]
    pub customer_id: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub content: String,
    pub source: MessageSource,
    /// When the buyer sent it (default: now); at most 5 minutes ahead of the server.
    pub received_at: Option<DateTime<Utc>>,
}

impl NewMessage {
    fn check(&self) -> AppResult<()> {
        let mut errors = FieldErrors::new();
        let customer = self.customer_id.trim();
        if customer.is_empty()
            || customer.chars().count() > CUSTOMER_MAX_CHARS
            || customer.chars().any(char::is_control)
        {
            errors.add(
                "customer_id",
                tr!(
                    "必须为 1 到 {CUSTOMER_MAX_CHARS} 个字符，且不含控制字符",
                    "must be 1 to {CUSTOMER_MAX_CHARS} characters without control characters"
                ),
            );
        }
        if self.content.trim().is_empty() {
            errors.add("content", tr!("不能为空", "must not be empty"));
        }
        validate::free_text("content", &self.content, CONTENT_MAX_CHARS, &mut errors);
        if self
            .received_at
            .is_some_and(|t| t > Utc::now() + Duration::minutes(5))
        {
            errors.add(
                "received_at",
                tr!("不能晚于当前时间", "must not be in the future"),
            );
        }
        errors.into_result()
    }
}

/// The key two readings of the same question share: the retrieval engine's
/// normalisation (width, case, punctuation, greetings and particles folded), or the
/// plain folded text when that leaves nothing.
pub fn content_key(content: &str) -> String {
    let normalized = text::normalize(content);
    let key = if normalized.is_empty() {
        content.trim().to_lowercase()
    } else {
        normalized
    };
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The outcome of posting a message.
pub enum Taken {
    /// A new message, to be routed.
    New(message::Model),
    /// The same message was posted before (by key or within the window): as it is now.
    Existing(message::Model),
}

/// Stores `new` for the shop's tenant unless it is one already stored. `idempotency`:
/// the caller's key and the hash of its body.
pub async fn take(
    kernel: &Kernel,
    ctx: &RequestContext,
    actor: &Actor,
    shop: &shop::Model,
    new: &NewMessage,
    idempotency: Option<(String, String)>,
    window: Duration,
) -> AppResult<Taken> {
    new.check()?;
    let tenant = shop.tenant_id;
    let key = content_key(&new.content);
    let customer = new.customer_id.trim().to_string();
    let received = new.received_at.unwrap_or_else(Utc::now);
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    // Two posts of one message at once must not both insert: serialise them on the
    // key (SQLite has one writer at a time anyway).
    // Two posts with one `Idempotency-Key` (and different texts) likewise, on the key.
    if txn.get_database_backend() == DbBackend::Postgres {
        let content_lock = i64::from_str_radix(&key[..15], 16).unwrap_or_default() ^ shop.id;
        let key_lock = idempotency.as_ref().map(|(idem_key, _)| {
            let digest = Sha256::digest(format!("{tenant}:{idem_key}").as_bytes());
            i64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
        });
        // Always in the same order (content, then key), so two posts cannot deadlock.
        for lock in std::iter::once(content_lock).chain(key_lock) {
            txn.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [lock.into()],
            ))
            .await?;
        }
    }
    if let Some((idem_key, hash)) = &idempotency {
        let earlier = message::Entity::find()
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::IdempotencyKey.eq(idem_key.clone()))
            .one(&txn)
            .await?;
        if let Some(earlier) = earlier {
            if earlier.request_hash.as_deref() != Some(hash.as_str()) {
                return Err(KernelCode::IdempotencyKeyReused.err());
            }
            return Ok(Taken::Existing(earlier));
        }
    }
    let same = message::Entity::find()
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::ShopId.eq(shop.id))
        .filter(message::Column::CustomerId.eq(customer.clone()))
        .filter(message::Column::ContentKey.eq(key.clone()))
        .filter(message::Column::ReceivedAt.gte(received - window))
        .filter(message::Column::ReceivedAt.lte(received + window))
        .order_by_asc(message::Column::Id)
        .one(&txn)
        .await?;
    if let Some(same) = same {
        return Ok(Taken::Existing(same));
    }
    let now = Utc::now();
    let (idem_key, hash) = idempotency.unzip();
    let saved = message::ActiveModel {
        tenant_id: Set(tenant),
        shop_id: Set(shop.id),
        customer_id: Set(customer),
        content: Set(new.content.trim().to_string()),
        content_key: Set(key),
        source: Set(new.source),
        idempotency_key: Set(idem_key),
        request_hash: Set(hash),
        received_at: Set(received),
        created_at: Set(now),
        status: Set(MessageStatus::New),
        decided_by: Set(String::new()),
        auto_send: Set(false),
        delivery: Set(Delivery::None),
        delivery_attempts: Set(0),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    event(
        &txn,
        &saved,
        "received",
        &actor.name,
        json!({ "source": new.source }),
    )
    .await?;
    audit::record(
        &txn,
        ctx,
        actor,
        Change {
            tenant_id: tenant,
            action: "cs.message.receive",
            target_type: "cs_message",
            target_id: saved.id.to_string(),
            summary: json!({ "shop_id": shop.id, "source": new.source }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Taken::New(saved))
}

/// Appends to a message's history.
pub async fn event<C: ConnectionTrait>(
    db: &C,
    message: &message::Model,
    kind: &str,
    actor: &str,
    details: Value,
) -> AppResult<()> {
    message_event::ActiveModel {
        tenant_id: Set(message.tenant_id),
        message_id: Set(message.id),
        kind: Set(kind.to_string()),
        actor: Set(actor.to_string()),
        details: Set(details),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A message's history, oldest first.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    message: &message::Model,
) -> AppResult<Vec<message_event::Model>> {
    Ok(message_event::Entity::find()
        .filter(message_event::Column::TenantId.eq(message.tenant_id))
        .filter(message_event::Column::MessageId.eq(message.id))
        .order_by_asc(message_event::Column::Id)
        .all(db)
        .await?)
}

/// The tenant's message `id` in the caller's shops; 404 otherwise.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    scope: &ShopScope,
    tenant: i64,
    id: i64,
) -> AppResult<message::Model> {
    message::Entity::find_by_id(id)
        .filter(message::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .filter(|m| scope.allows(m.shop_id))
        .ok_or_else(|| AppError::not_found("cs_message"))
}

/// Filters of the message list.
#[derive(Debug, Default)]
pub struct MessageFilter {
    pub shop_id: Option<i64>,
    pub status: Option<MessageStatus>,
    pub customer_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The tenant's messages in the caller's shops, narrowed by `filter`.
pub fn query(tenant: i64, scope: &ShopScope, filter: &MessageFilter) -> Select<message::Entity> {
    let mut q = message::Entity::find()
        .filter(message::Column::TenantId.eq(tenant))
        .filter(scope.condition(message::Column::ShopId));
    if let Some(shop) = filter.shop_id {
        q = q.filter(message::Column::ShopId.eq(shop));
    }
    if let Some(status) = filter.status {
        q = q.filter(message::Column::Status.eq(status));
    }
    if let Some(customer) = &filter.customer_id {
        q = q.filter(message::Column::CustomerId.eq(customer.clone()));
    }
    if let Some(from) = filter.from {
        q = q.filter(message::Column::ReceivedAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(message::Column::ReceivedAt.lt(to));
    }
    q
}

/// One step of a message: the columns it sets, applied only while the message is in
/// `from` (and `guard` holds) — so two reviewers, two agents or two replicas racing on
/// one message make one change, and the loser sees `None`.
pub struct Step<'a> {
    pub message: &'a message::Model,
    pub from: MessageStatus,
    pub to: MessageStatus,
    pub set: Vec<(message::Column, SimpleExpr)>,
    pub guard: Option<sea_orm::Condition>,
    pub event: &'a str,
    pub details: Value,
}

/// Applies `step` in `txn` with its event and audit record; the message as it is
/// after, or `None` when it was no longer in `from` (or the guard failed).
pub async fn advance<C: ConnectionTrait>(
    txn: &C,
    ctx: &RequestContext,
    actor: &Actor,
    step: Step<'_>,
) -> AppResult<Option<message::Model>> {
    debug_assert!(step.from == step.to || step.from.may_become(step.to));
    let m = step.message;
    let mut update = message::Entity::update_many()
        .col_expr(message::Column::Status, Expr::value(step.to))
        .col_expr(message::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(message::Column::Id.eq(m.id))
        .filter(message::Column::TenantId.eq(m.tenant_id))
        .filter(message::Column::Status.eq(step.from));
    for (column, value) in step.set {
        update = update.col_expr(column, value);
    }
    if let Some(guard) = step.guard {
        update = update.filter(guard);
    }
    if update.exec(txn).await?.rows_affected == 0 {
        return Ok(None);
    }
    let after = message::Entity::find_by_id(m.id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::not_found("cs_message"))?;
    event(txn, &after, step.event, &actor.name, step.details.clone()).await?;
    if step.from != step.to {
        audit::record(
            txn,
            ctx,
            actor,
            Change {
                tenant_id: m.tenant_id,
                action: "cs.message.status",
                target_type: "cs_message",
                target_id: m.id.to_string(),
                summary: json!({ "from": step.from, "to": step.to, "step": step.event }),
            },
        )
        .await?;
    }
    Ok(Some(after))
}
