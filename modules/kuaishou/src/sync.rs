//! Order sync: orders updated in a time window, pulled page by page with the cursor API
//! (`open.order.cursor.list`, by update time), upserted into `kuaishou_orders` (+ items).
//! Each page is stored in one transaction; the checkpoint moves when a window is
//! finished, so a crash resumes at that window and re-runs change nothing (an older
//! copy of an order never overwrites a newer one).
//!
//! Pages come from [`calls::pages`] (typed answers, `cursor` until `"nomore"`).
//! The exact answer shape could not be checked against the platform from here; the
//! typed answer reads it tolerantly and the fake platform in the tests serves it.

use chrono::Utc;
use futures_util::TryStreamExt;
use sea_orm::{ConnectionTrait, EntityTrait, Statement, TransactionTrait, Value as DbValue};
use serde::Serialize;
use serde_json::Value;
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use crate::calls;
use crate::entities::{shop, sync_checkpoint};
use crate::platform::Platform;
use crate::typed::orders::{Order, OrderCursorList, OrderItemInfo};

const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Each run re-reads the last 5 minutes: orders updated while the previous run read.
const OVERLAP_MS: i64 = 5 * 60 * 1000;
const PAGE_SIZE: u32 = 100;
/// `queryType` 2: orders by update time.
const BY_UPDATE_TIME: i32 = 2;
/// A shop syncs the last day on its first run unless told otherwise.
const FIRST_RUN_MS: i64 = WINDOW_MS;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    pub shop_id: i64,
    pub windows: usize,
    pub pages: usize,
    /// Orders written (new or newer than the stored copy).
    pub orders_written: usize,
    pub orders_seen: usize,
    /// Orders updated before this instant (epoch ms) are synced.
    pub synced_until_ms: i64,
}

/// An order as stored: the typed answer's base and items, and the order as sent.
struct StoredOrder {
    oid: String,
    status: i64,
    buyer: Option<String>,
    total_fee: i64,
    pay_time: Option<i64>,
    update_time: i64,
    items: Vec<OrderItemInfo>,
    raw: Value,
}

impl StoredOrder {
    fn from(order: &Order) -> Option<StoredOrder> {
        let base = order.base()?;
        Some(StoredOrder {
            oid: base.oid?.to_string(),
            status: base.status.unwrap_or(0),
            buyer: base.buyer_open_id.clone(),
            total_fee: base.total_fee.unwrap_or(0),
            pay_time: base.pay_time.filter(|t| *t > 0),
            update_time: base.update_time.unwrap_or(0),
            items: order.items().cloned().collect(),
            raw: serde_json::from_str(order.json.get()).unwrap_or(Value::Null),
        })
    }
}

/// Stores an order unless the stored copy is as new or newer; true when written.
pub(crate) async fn store_order<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
    order: &Order,
) -> AppResult<bool> {
    match StoredOrder::from(order) {
        Some(order) => upsert(db, shop, &order).await,
        None => Ok(false),
    }
}

async fn upsert<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
    o: &StoredOrder,
) -> AppResult<bool> {
    let backend = db.get_database_backend();
    let sql = "INSERT INTO kuaishou_orders (tenant_id, shop_id, oid, status, buyer_open_id, total_fee, pay_time, update_time, raw, synced_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
               ON CONFLICT (shop_id, oid) DO UPDATE SET status = excluded.status, buyer_open_id = excluded.buyer_open_id, \
                 total_fee = excluded.total_fee, pay_time = excluded.pay_time, update_time = excluded.update_time, raw = excluded.raw, synced_at = excluded.synced_at \
               WHERE excluded.update_time > kuaishou_orders.update_time RETURNING id";
    let values: Vec<DbValue> = vec![
        shop.tenant_id.into(),
        shop.id.into(),
        o.oid.clone().into(),
        o.status.into(),
        o.buyer.clone().into(),
        o.total_fee.into(),
        o.pay_time.into(),
        o.update_time.into(),
        DbValue::Json(Some(Box::new(o.raw.clone()))),
        Utc::now().into(),
    ];
    let Some(row) = db
        .query_one(Statement::from_sql_and_values(backend, sql, values))
        .await?
    else {
        return Ok(false); // the stored copy is newer
    };
    let order_id: i64 = row.try_get("", "id")?;
    db.execute(Statement::from_sql_and_values(
        backend,
        "DELETE FROM kuaishou_order_items WHERE order_id = $1",
        vec![order_id.into()],
    ))
    .await?;
    for item in &o.items {
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

async fn save_checkpoint<C: ConnectionTrait>(
    db: &C,
    shop: &shop::Model,
    until: i64,
    error: Option<String>,
) -> AppResult<()> {
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

/// Syncs one shop from its checkpoint (or `since_ms`) to now. `progress` is told after
/// every page. A failed run records its error on the checkpoint, which stays at the
/// last finished window.
pub async fn sync_shop(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
    since_ms: Option<i64>,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> AppResult<SyncReport> {
    let now = Utc::now().timestamp_millis();
    let checkpoint = sync_checkpoint::Entity::find_by_id(shop.id)
        .one(&kernel.db)
        .await?;
    let begin = since_ms.unwrap_or_else(|| {
        checkpoint
            .map(|c| c.synced_until_ms - OVERLAP_MS)
            .unwrap_or(now - FIRST_RUN_MS)
    });
    let mut report = SyncReport {
        shop_id: shop.id,
        windows: 0,
        pages: 0,
        orders_written: 0,
        orders_seen: 0,
        synced_until_ms: begin,
    };
    let label = shop.id.to_string();
    let m = &platform.metrics;
    match sync_windows(kernel, platform, shop, now, &mut report, progress).await {
        Ok(()) => {
            m.sync_runs.with_label_values(&[&label, "ok"]).inc();
            m.sync_lag_seconds
                .with_label_values(&[&label])
                .set((Utc::now().timestamp_millis() - report.synced_until_ms) / 1000);
            Ok(report)
        }
        Err(e) => {
            m.sync_runs.with_label_values(&[&label, "error"]).inc();
            let error = format!("{}: {}", e.code, e.message);
            save_checkpoint(&kernel.db, shop, report.synced_until_ms, Some(error)).await?;
            Err(e)
        }
    }
}

/// Pulls one-day windows from `report.synced_until_ms` to `now`, moving the checkpoint
/// after each finished window.
async fn sync_windows(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
    now: i64,
    report: &mut SyncReport,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> AppResult<()> {
    let label = shop.id.to_string();
    let m = &platform.metrics;
    while report.synced_until_ms < now {
        let begin = report.synced_until_ms;
        let end = (begin + WINDOW_MS).min(now);
        let request = OrderCursorList {
            page_size: Some(PAGE_SIZE),
            query_type: Some(BY_UPDATE_TIME),
            begin_time: begin,
            end_time: end,
            ..Default::default()
        };
        let mut pages = std::pin::pin!(calls::pages(kernel, platform, shop, request));
        while let Some(page) = pages.try_next().await? {
            let txn = kernel.db.begin().await?;
            let mut written = 0;
            for info in &page.order_list {
                if store_order(&txn, shop, info).await? {
                    written += 1;
                }
            }
            txn.commit().await?;
            let seen = page.order_list.len();
            report.orders_seen += seen;
            report.orders_written += written;
            report.pages += 1;
            m.sync_pages.with_label_values(&[&label]).inc();
            m.sync_orders
                .with_label_values(&[&label, "seen"])
                .inc_by(seen as u64);
            m.sync_orders
                .with_label_values(&[&label, "written"])
                .inc_by(written as u64);
            progress(report);
        }
        // The window is complete. A crash before this line re-reads it, which changes
        // nothing: an order is written only when newer than the stored copy.
        save_checkpoint(&kernel.db, shop, end, None).await?;
        report.synced_until_ms = end;
        report.windows += 1;
    }
    Ok(())
}

/// Syncs every active shop, four at a time; one shop's failure does not stop the
/// others. Returns each shop's report or error.
pub async fn sync_all(
    kernel: &Kernel,
    platform: &Platform,
) -> AppResult<Vec<(i64, Result<SyncReport, String>)>> {
    use futures_util::StreamExt;
    use sea_orm::{ColumnTrait, QueryFilter};
    let active = shop::Entity::find()
        .filter(shop::Column::Status.eq(crate::shops::ShopStatus::Active.as_str()))
        .all(&kernel.db)
        .await?;
    let results = futures_util::stream::iter(active)
        .map(|s| async move {
            let r = sync_shop(kernel, platform, &s, None, &|_| {})
                .await
                .map_err(|e| format!("{}: {}", e.code, e.message));
            (s.id, r)
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    for (shop, r) in &results {
        match r {
            Ok(report) => tracing::info!(
                shop,
                orders = report.orders_written,
                "Kuaishou orders synced"
            ),
            Err(e) => {
                tracing::warn!(shop, error = %e, "Kuaishou order sync failed; next run resumes")
            }
        }
    }
    Ok(results)
}
