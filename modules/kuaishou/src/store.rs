//! The queries. Every query of a tenant's rows takes the tenant; the few that act for
//! every tenant (the jobs, the push receiver, the operator's command line) are in
//! [`across_tenants`], where they are easy to find and never fed a caller's input.
//!
//! Orders and refunds are upserted with plain SQL (the same text on SQLite and
//! PostgreSQL): "insert, or update only when the incoming copy is newer" is one
//! statement there, and an older copy must never overwrite a newer one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
    Statement, Value as DbValue,
};
use serde_json::{json, Value};
use shopops_kernel::http::pagination::{Order as ListOrder, Page, PageRequest};
use shopops_kernel::{AppError, AppResult};

use crate::entities::{event, order, refund, shop, sync_checkpoint};
use crate::service::events::DispatchStatus;
use crate::service::shops::ShopStatus;
use crate::typed::orders::Order;
use crate::typed::refunds::RefundInfo;

/// A shop's tokens, encrypted with the kernel's personal-data vault.
pub struct SealedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
}

/// The tenant's shop, or None (also for a shop of another tenant).
pub async fn find_shop<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
) -> Result<Option<shop::Model>, DbErr> {
    shop::Entity::find_by_id(id)
        .filter(shop::Column::TenantId.eq(tenant))
        .one(db)
        .await
}

/// The tenant's shop; 404 for a shop of another tenant as for one that does not exist.
pub async fn shop<C: ConnectionTrait>(db: &C, tenant: i64, id: i64) -> AppResult<shop::Model> {
    find_shop(db, tenant, id)
        .await?
        .ok_or_else(|| AppError::not_found("kuaishou_shop"))
}

/// The tenant's shops, oldest first.
pub async fn shops<C: ConnectionTrait>(db: &C, tenant: i64) -> Result<Vec<shop::Model>, DbErr> {
    shop::Entity::find()
        .filter(shop::Column::TenantId.eq(tenant))
        .order_by_asc(shop::Column::Id)
        .all(db)
        .await
}

/// Stores a shop a seller authorised: active, with fresh tokens. The same seller
/// authorised again in the same tenant is the same row, its tokens replaced.
pub async fn upsert_shop<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    open_id: &str,
    tokens: SealedTokens,
    scopes: &[String],
) -> AppResult<shop::Model> {
    let now = Utc::now();
    let row = shop::ActiveModel {
        tenant_id: Set(tenant),
        open_id: Set(open_id.to_string()),
        status: Set(ShopStatus::Active),
        access_token_enc: Set(Some(tokens.access_token)),
        refresh_token_enc: Set(Some(tokens.refresh_token)),
        access_expires_at: Set(Some(tokens.access_expires_at)),
        refresh_expires_at: Set(Some(tokens.refresh_expires_at)),
        scopes: Set(json!(scopes)),
        refresh_lock_until: Set(None),
        last_refreshed_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    shop::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([shop::Column::TenantId, shop::Column::OpenId])
                .update_columns([
                    shop::Column::Status,
                    shop::Column::AccessTokenEnc,
                    shop::Column::RefreshTokenEnc,
                    shop::Column::AccessExpiresAt,
                    shop::Column::RefreshExpiresAt,
                    shop::Column::Scopes,
                    shop::Column::LastRefreshedAt,
                    shop::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    shop::Entity::find()
        .filter(shop::Column::TenantId.eq(tenant))
        .filter(shop::Column::OpenId.eq(open_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("shop vanished after save"))
}

/// Disconnects a shop: revoked, its tokens erased.
pub async fn revoke_shop<C: ConnectionTrait>(db: &C, tenant: i64, id: i64) -> Result<(), DbErr> {
    shop::Entity::update_many()
        .col_expr(shop::Column::Status, Expr::value(ShopStatus::Revoked))
        .col_expr(
            shop::Column::AccessTokenEnc,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            shop::Column::RefreshTokenEnc,
            Expr::value(Option::<String>::None),
        )
        .col_expr(shop::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shop::Column::Id.eq(id))
        .filter(shop::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes the shop's refresh lock until `until` when nobody holds it (or the holder's
/// time ran out): true when this caller got it. A conditional update, so it works
/// across replicas with or without Redis.
pub async fn lock_refresh<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let locked = shop::Entity::update_many()
        .col_expr(shop::Column::RefreshLockUntil, Expr::value(until))
        .filter(shop::Column::Id.eq(id))
        .filter(shop::Column::TenantId.eq(tenant))
        .filter(
            Condition::any()
                .add(shop::Column::RefreshLockUntil.is_null())
                .add(shop::Column::RefreshLockUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(locked.rows_affected == 1)
}

pub async fn unlock_refresh<C: ConnectionTrait>(db: &C, tenant: i64, id: i64) -> Result<(), DbErr> {
    shop::Entity::update_many()
        .col_expr(
            shop::Column::RefreshLockUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(shop::Column::Id.eq(id))
        .filter(shop::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores refreshed tokens; the shop is active again.
pub async fn save_tokens<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
    tokens: SealedTokens,
) -> Result<(), DbErr> {
    let now = Utc::now();
    shop::Entity::update_many()
        .col_expr(
            shop::Column::AccessTokenEnc,
            Expr::value(tokens.access_token),
        )
        .col_expr(
            shop::Column::RefreshTokenEnc,
            Expr::value(tokens.refresh_token),
        )
        .col_expr(
            shop::Column::AccessExpiresAt,
            Expr::value(tokens.access_expires_at),
        )
        .col_expr(
            shop::Column::RefreshExpiresAt,
            Expr::value(tokens.refresh_expires_at),
        )
        .col_expr(shop::Column::LastRefreshedAt, Expr::value(now))
        .col_expr(shop::Column::Status, Expr::value(ShopStatus::Active))
        .col_expr(shop::Column::UpdatedAt, Expr::value(now))
        .filter(shop::Column::Id.eq(id))
        .filter(shop::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn set_shop_status<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
    status: ShopStatus,
) -> Result<(), DbErr> {
    shop::Entity::update_many()
        .col_expr(shop::Column::Status, Expr::value(status))
        .col_expr(shop::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shop::Column::Id.eq(id))
        .filter(shop::Column::TenantId.eq(tenant))
        .exec(db)
        .await?;
    Ok(())
}

/// Which of the tenant's orders or refunds to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordFilter {
    /// Only this shop's.
    pub shop_id: Option<i64>,
    /// Only this platform status.
    pub status: Option<i64>,
}

/// This page of a table of shop records, newest first; `columns` are its tenant, shop,
/// status and id columns.
async fn records<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    [tenant_column, shop_column, status_column, id_column]: [E::Column; 4],
    filter: RecordFilter,
    page: PageRequest,
    key: impl Fn(&E::Model) -> i64,
) -> AppResult<Page<E::Model>> {
    let mut query = E::find().filter(tenant_column.eq(tenant));
    if let Some(s) = filter.shop_id {
        query = query.filter(shop_column.eq(s));
    }
    if let Some(s) = filter.status {
        query = query.filter(status_column.eq(s));
    }
    page.fetch(query, id_column, ListOrder::NewestFirst, db, key)
        .await
}

/// A page of the tenant's synced orders, newest first.
pub async fn orders<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    filter: RecordFilter,
    page: PageRequest,
) -> AppResult<Page<order::Model>> {
    use order::Column;
    let columns = [Column::TenantId, Column::ShopId, Column::Status, Column::Id];
    records::<order::Entity, C>(db, tenant, columns, filter, page, |o| o.id).await
}

/// A page of the tenant's refunds, newest first.
pub async fn refunds<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    filter: RecordFilter,
    page: PageRequest,
) -> AppResult<Page<refund::Model>> {
    use refund::Column;
    let columns = [Column::TenantId, Column::ShopId, Column::Status, Column::Id];
    records::<refund::Entity, C>(db, tenant, columns, filter, page, |r| r.id).await
}

/// A page of the tenant's message-push events, newest first.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    page: PageRequest,
) -> AppResult<Page<event::Model>> {
    let query = event::Entity::find().filter(event::Column::TenantId.eq(tenant));
    page.fetch(query, event::Column::Id, ListOrder::NewestFirst, db, |e| {
        e.id
    })
    .await
}

/// Stores an order of `shop` (and replaces its items) unless the stored copy is as new
/// or newer; true when written. An answer without an order id is not an order.
pub async fn upsert_order<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
    order: &Order,
) -> AppResult<bool> {
    let Some(base) = order.base() else {
        return Ok(false);
    };
    let Some(oid) = base.oid else {
        return Ok(false);
    };
    let backend = db.get_database_backend();
    let sql = "INSERT INTO kuaishou_orders (tenant_id, shop_id, oid, status, buyer_open_id, total_fee, pay_time, update_time, raw, synced_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
               ON CONFLICT (shop_id, oid) DO UPDATE SET status = excluded.status, buyer_open_id = excluded.buyer_open_id, \
                 total_fee = excluded.total_fee, pay_time = excluded.pay_time, update_time = excluded.update_time, raw = excluded.raw, synced_at = excluded.synced_at \
               WHERE excluded.update_time > kuaishou_orders.update_time RETURNING id";
    let raw: Value = serde_json::from_str(order.json.get()).unwrap_or(Value::Null);
    let values: Vec<DbValue> = vec![
        shop.tenant_id.into(),
        shop.id.into(),
        oid.to_string().into(),
        base.status.unwrap_or(0).into(),
        base.buyer_open_id.clone().into(),
        base.total_fee.unwrap_or(0).into(),
        base.pay_time.filter(|t| *t > 0).into(),
        base.update_time.unwrap_or(0).into(),
        DbValue::Json(Some(Box::new(raw))),
        Utc::now().into(),
    ];
    let Some(row) = db
        .query_one(Statement::from_sql_and_values(backend, sql, values))
        .await?
    else {
        return Ok(false); // the stored copy is as new or newer
    };
    let order_id: i64 = row.try_get("", "id")?;
    db.execute(Statement::from_sql_and_values(
        backend,
        "DELETE FROM kuaishou_order_items WHERE order_id = $1",
        vec![order_id.into()],
    ))
    .await?;
    for item in order.items() {
        let id_text = |v: Option<i64>| v.map(|i| i.to_string()).unwrap_or_default();
        db.execute(Statement::from_sql_and_values(
            backend,
            "INSERT INTO kuaishou_order_items (tenant_id, order_id, item_id, sku_id, title, num, price) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                shop.tenant_id.into(),
                order_id.into(),
                id_text(item.item_id).into(),
                id_text(item.sku_id).into(),
                item.item_title.clone().unwrap_or_default().into(),
                item.num.unwrap_or(0).into(),
                item.price.unwrap_or(0).into(),
            ],
        ))
        .await?;
    }
    Ok(true)
}

/// Stores a refund of `shop` unless the stored copy is as new or newer; true when
/// written.
pub async fn upsert_refund<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
    refund: &RefundInfo,
) -> AppResult<bool> {
    let Some(refund_id) = refund.refund_id else {
        return Ok(false);
    };
    let sql = "INSERT INTO kuaishou_refunds (tenant_id, shop_id, refund_id, order_id, status, handling_way, refund_fee, update_time, raw, synced_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
               ON CONFLICT (shop_id, refund_id) DO UPDATE SET order_id = excluded.order_id, status = excluded.status, \
                 handling_way = excluded.handling_way, refund_fee = excluded.refund_fee, update_time = excluded.update_time, \
                 raw = excluded.raw, synced_at = excluded.synced_at \
               WHERE excluded.update_time > kuaishou_refunds.update_time";
    let values: Vec<DbValue> = vec![
        shop.tenant_id.into(),
        shop.id.into(),
        refund_id.to_string().into(),
        refund
            .order_id
            .map(|o| o.to_string())
            .unwrap_or_default()
            .into(),
        refund.status.unwrap_or(0).into(),
        refund.handling_way.into(),
        refund.refund_fee.into(),
        refund.update_time.unwrap_or(0).into(),
        DbValue::Json(Some(Box::new(
            serde_json::to_value(refund).unwrap_or_default(),
        ))),
        Utc::now().into(),
    ];
    let result = db
        .execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Where the shop's order sync stands.
pub async fn checkpoint<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
) -> Result<Option<sync_checkpoint::Model>, DbErr> {
    sync_checkpoint::Entity::find_by_id(shop.id)
        .filter(sync_checkpoint::Column::TenantId.eq(shop.tenant_id))
        .one(db)
        .await
}

/// Moves the shop's checkpoint to `until` (epoch ms), with the run's error if it failed.
pub async fn save_checkpoint<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
    until: i64,
    error: Option<String>,
) -> Result<(), DbErr> {
    let sql = "INSERT INTO kuaishou_sync_checkpoints (shop_id, tenant_id, synced_until_ms, last_run_at, last_error) VALUES ($1, $2, $3, $4, $5) \
               ON CONFLICT (shop_id) DO UPDATE SET synced_until_ms = excluded.synced_until_ms, last_run_at = excluded.last_run_at, last_error = excluded.last_error";
    let values: Vec<DbValue> = vec![
        shop.id.into(),
        shop.tenant_id.into(),
        until.into(),
        Utc::now().into(),
        error.into(),
    ];
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// One pushed message, as stored for each shop that holds its seller.
pub struct NewEvent<'a> {
    pub message_id: &'a str,
    pub event: &'a str,
    pub open_id: &'a str,
    pub payload: &'a Value,
    pub received_at: DateTime<Utc>,
    pub dispatch: DispatchStatus,
}

/// Stores the message's copy for `holder` unless it has one already (the platform
/// sent the message again); the row when it is new.
pub async fn insert_event<C: ConnectionTrait>(
    db: &C,
    holder: &shop::Model,
    new: &NewEvent<'_>,
) -> Result<Option<event::Model>, DbErr> {
    let row = event::ActiveModel {
        tenant_id: Set(holder.tenant_id),
        shop_id: Set(Some(holder.id)),
        message_id: Set(new.message_id.to_string()),
        event: Set(new.event.to_string()),
        open_id: Set(new.open_id.to_string()),
        payload: Set(new.payload.clone()),
        received_at: Set(new.received_at),
        dispatch_status: Set(new.dispatch),
        attempts: Set(0),
        next_attempt_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    };
    let inserted = event::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([event::Column::MessageId, event::Column::ShopId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    event::Entity::find()
        .filter(event::Column::TenantId.eq(holder.tenant_id))
        .filter(event::Column::MessageId.eq(new.message_id))
        .filter(event::Column::ShopId.eq(holder.id))
        .one(db)
        .await
}

/// Claims a pending event for one attempt, leasing it until `lease_until`: true when
/// this caller won it. The attempt count in the condition makes two claimants of the
/// same attempt exclusive.
pub async fn claim_event<C: ConnectionTrait>(
    db: &C,
    row: &event::Model,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let claimed = event::Entity::update_many()
        .col_expr(event::Column::NextAttemptAt, Expr::value(lease_until))
        .col_expr(event::Column::Attempts, Expr::value(row.attempts + 1))
        .filter(event::Column::Id.eq(row.id))
        .filter(event::Column::TenantId.eq(row.tenant_id))
        .filter(event::Column::DispatchStatus.eq(DispatchStatus::Pending))
        .filter(event::Column::Attempts.eq(row.attempts))
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Records an attempt's outcome: the event's status, when to try again, the error.
pub async fn finish_event<C: ConnectionTrait>(
    db: &C,
    row: &event::Model,
    status: DispatchStatus,
    next_attempt_at: Option<DateTime<Utc>>,
    error: Option<String>,
) -> Result<(), DbErr> {
    event::Entity::update_many()
        .col_expr(event::Column::DispatchStatus, Expr::value(status))
        .col_expr(event::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(event::Column::LastError, Expr::value(error))
        .filter(event::Column::Id.eq(row.id))
        .filter(event::Column::TenantId.eq(row.tenant_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Queries for work done for every tenant at once.
pub mod across_tenants {
    use chrono::{DateTime, Utc};
    use sea_orm::{
        ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
        QuerySelect,
    };

    use crate::entities::{event, shop};
    use crate::service::events::DispatchStatus;
    use crate::service::shops::ShopStatus;

    /// The shops a pushed message goes to: every shop of the seller that is not
    /// revoked, whatever its tenant.
    pub async fn shops_holding<C: ConnectionTrait>(
        db: &C,
        open_id: &str,
    ) -> Result<Vec<shop::Model>, DbErr> {
        shop::Entity::find()
            .filter(shop::Column::OpenId.eq(open_id))
            .filter(shop::Column::Status.ne(ShopStatus::Revoked))
            .all(db)
            .await
    }

    /// Every active shop: the order-sync job's.
    pub async fn active_shops<C: ConnectionTrait>(db: &C) -> Result<Vec<shop::Model>, DbErr> {
        shop::Entity::find()
            .filter(shop::Column::Status.eq(ShopStatus::Active))
            .all(db)
            .await
    }

    /// Every shop: the token alerts'.
    pub async fn all_shops<C: ConnectionTrait>(db: &C) -> Result<Vec<shop::Model>, DbErr> {
        shop::Entity::find().all(db).await
    }

    /// A shop by id: the operator's `shopops kuaishou sync --shop ID`.
    pub async fn shop<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<shop::Model>, DbErr> {
        shop::Entity::find_by_id(id).one(db).await
    }

    /// Pending events whose time has come, oldest first: the dispatch sweep's.
    pub async fn due_events<C: ConnectionTrait>(
        db: &C,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<event::Model>, DbErr> {
        event::Entity::find()
            .filter(event::Column::DispatchStatus.eq(DispatchStatus::Pending))
            .filter(
                Condition::any()
                    .add(event::Column::NextAttemptAt.is_null())
                    .add(event::Column::NextAttemptAt.lte(now)),
            )
            .order_by_asc(event::Column::Id)
            .limit(limit)
            .all(db)
            .await
    }
}
