//! Order sync: orders updated in a time window, pulled page by page with the cursor API
//! (`open.order.cursor.list`, by update time), upserted into `kuaishou_orders` (+ items).
//! The checkpoint moves in the same transaction as a finished window, so a crash
//! resumes at the window and re-runs change nothing (an older copy of an order never
//! overwrites a newer one).
//!
//! The answer is read tolerantly: `data.orderList` (or `orderInfoList`) of orders that
//! carry `orderBaseInfo`/`orderItemInfo` or flat fields, `data.cursor` (or `pcursor`)
//! until it is empty or `"nomore"`. The exact shape could not be checked against the
//! platform from here; the fake platform in the tests serves this shape.

use chrono::Utc;
use sea_orm::{ConnectionTrait, EntityTrait, Statement, TransactionTrait, Value as DbValue};
use serde::Serialize;
use serde_json::{json, Value};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::catalogue;
use crate::entities::{shop, sync_checkpoint};
use crate::platform::Platform;
use crate::shops;

const METHOD: &str = "open.order.cursor.list";
const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Each run re-reads the last 5 minutes: orders updated while the previous run read.
const OVERLAP_MS: i64 = 5 * 60 * 1000;
const PAGE_SIZE: i64 = 100;
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

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

struct Order {
    oid: String,
    status: i64,
    buyer: Option<String>,
    total_fee: i64,
    pay_time: Option<i64>,
    update_time: i64,
    items: Vec<(String, String, String, i64, i64)>,
    raw: Value,
}

fn parse_order(o: &Value) -> Option<Order> {
    let base = o.get("orderBaseInfo").unwrap_or(o);
    let items: Vec<&Value> = match (
        o.get("orderItemInfo"),
        o.get("orderItemList").or_else(|| base.get("itemList")),
    ) {
        (Some(one), _) if one.is_object() => vec![one],
        (_, Some(Value::Array(list))) => list.iter().collect(),
        _ => vec![],
    };
    Some(Order {
        oid: text(&base["oid"]).or_else(|| text(&base["orderId"]))?,
        status: int(&base["status"]),
        buyer: text(&base["buyerOpenId"]),
        total_fee: int(&base["totalFee"]),
        pay_time: Some(int(&base["payTime"])).filter(|t| *t > 0),
        update_time: int(&base["updateTime"]),
        items: items
            .into_iter()
            .map(|i| {
                (
                    text(&i["itemId"]).unwrap_or_default(),
                    text(&i["skuId"]).unwrap_or_default(),
                    text(&i["itemTitle"])
                        .or_else(|| text(&i["title"]))
                        .unwrap_or_default(),
                    int(&i["num"]),
                    int(&i["price"]),
                )
            })
            .collect(),
        raw: o.clone(),
    })
}

async fn upsert<C: ConnectionTrait>(db: &C, shop: &shop::Model, o: &Order) -> AppResult<bool> {
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
    for (item_id, sku_id, title, num, price) in &o.items {
        db.execute(Statement::from_sql_and_values(
            backend,
            "INSERT INTO kuaishou_order_items (tenant_id, order_id, item_id, sku_id, title, num, price) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![shop.tenant_id.into(), order_id.into(), item_id.clone().into(), sku_id.clone().into(), title.clone().into(), (*num).into(), (*price).into()],
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
/// every page.
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
    let mut begin = since_ms.unwrap_or_else(|| {
        checkpoint
            .map(|c| c.synced_until_ms - OVERLAP_MS)
            .unwrap_or(now - FIRST_RUN_MS)
    });
    let method = catalogue::find(METHOD)
        .ok_or_else(|| AppError::internal("catalogue lacks open.order.cursor.list"))?;
    let mut report = SyncReport {
        shop_id: shop.id,
        windows: 0,
        pages: 0,
        orders_written: 0,
        orders_seen: 0,
        synced_until_ms: begin,
    };
    while begin < now {
        let end = (begin + WINDOW_MS).min(now);
        let mut cursor: Option<String> = None;
        loop {
            let mut values = serde_json::Map::new();
            values.insert("pageSize".into(), json!(PAGE_SIZE));
            values.insert("queryType".into(), json!(2)); // by update time
            if let Some(c) = &cursor {
                values.insert("cursor".into(), json!(c));
            }
            values.insert("beginTime".into(), json!(begin));
            values.insert("endTime".into(), json!(end));
            let param = catalogue::param_json(method, &values).map_err(AppError::internal)?;
            let data = match shops::call(kernel, platform, shop, METHOD, param.as_deref()).await {
                Ok(d) => d,
                Err(e) => {
                    save_checkpoint(
                        &kernel.db,
                        shop,
                        report.synced_until_ms,
                        Some(format!("{}: {}", e.code, e.message)),
                    )
                    .await?;
                    return Err(e);
                }
            };
            let orders = data
                .get("orderList")
                .or_else(|| data.get("orderInfoList"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let next = data
                .get("cursor")
                .or_else(|| data.get("pcursor"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let txn = kernel.db.begin().await?;
            for o in orders.iter().filter_map(parse_order) {
                report.orders_seen += 1;
                if upsert(&txn, shop, &o).await? {
                    report.orders_written += 1;
                }
            }
            let done = orders.is_empty()
                || next
                    .as_deref()
                    .is_none_or(|c| c.is_empty() || c == "nomore")
                || next == cursor;
            if done {
                save_checkpoint(&txn, shop, end, None).await?;
                report.synced_until_ms = end;
            }
            txn.commit().await?;
            report.pages += 1;
            progress(&report);
            if done {
                break;
            }
            cursor = next;
        }
        report.windows += 1;
        begin = end;
    }
    Ok(report)
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
        .filter(shop::Column::Status.eq("active"))
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
