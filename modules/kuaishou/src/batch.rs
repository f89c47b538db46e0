//! Orders of several shops at once (seed 000's batch order query): each shop pulled
//! with the cursor API, a bounded number at a time, and every shop's failure reported
//! beside the others' orders instead of failing the whole query.

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use crate::calls;
use crate::platform::Platform;
use crate::shops;
use crate::typed::orders::OrderCursorList;

const MAX_SHOPS: usize = 50;
const DEFAULT_MAX_ORDERS: usize = 1000;
const MAX_ORDERS: usize = 10_000;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchOrderQuery {
    /// Shops of the caller's tenant (1 to 50).
    pub shop_ids: Vec<i64>,
    /// Epoch milliseconds, inclusive.
    pub begin_time: i64,
    /// Epoch milliseconds, exclusive.
    pub end_time: i64,
    /// 1 by create time (default), 2 by update time.
    pub query_type: Option<i32>,
    /// Orders returned per shop at most (default 1000, at most 10000); `truncated` says
    /// when a shop had more.
    pub max_orders_per_shop: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopFailure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopOrders {
    pub shop_id: i64,
    pub ok: bool,
    /// The platform's orders (`orderBaseInfo`, `orderItemInfo`, …).
    #[schema(value_type = Vec<Object>)]
    pub orders: Vec<Value>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ShopFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchOrderResult {
    /// One entry per requested shop, in the order asked.
    pub shops: Vec<ShopOrders>,
    pub failed: usize,
}

fn validate(q: &BatchOrderQuery) -> AppResult<usize> {
    let mut errors = FieldErrors::new();
    if q.shop_ids.is_empty() || q.shop_ids.len() > MAX_SHOPS {
        errors.add("shop_ids", format!("1 to {MAX_SHOPS} shop ids"));
    }
    let mut unique = q.shop_ids.clone();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != q.shop_ids.len() {
        errors.add("shop_ids", "each shop once");
    }
    if q.end_time <= q.begin_time || q.begin_time < 0 {
        errors.add("end_time", "after begin_time (epoch milliseconds)");
    }
    if q.query_type.is_some_and(|t| t != 1 && t != 2) {
        errors.add("query_type", "1 (create time) or 2 (update time)");
    }
    let max = q.max_orders_per_shop.unwrap_or(DEFAULT_MAX_ORDERS);
    if max == 0 || max > MAX_ORDERS {
        errors.add("max_orders_per_shop", format!("1 to {MAX_ORDERS}"));
    }
    errors.into_result().map(|()| max)
}

/// Runs the query for the tenant's shops; a shop of another tenant is reported as not
/// found, like one that does not exist.
pub async fn query_orders(
    kernel: &Kernel,
    platform: &Platform,
    tenant: i64,
    q: &BatchOrderQuery,
) -> AppResult<BatchOrderResult> {
    let max = validate(q)?;
    let one_shop = |shop_id: i64| async move {
        let pulled: AppResult<(Vec<Value>, bool)> = async {
            let shop = shops::find(kernel, tenant, shop_id).await?;
            let request = OrderCursorList {
                page_size: Some(100),
                query_type: Some(q.query_type.unwrap_or(1)),
                begin_time: q.begin_time,
                end_time: q.end_time,
                ..Default::default()
            };
            let mut orders: Vec<Value> = calls::orders(kernel, platform, &shop, request)
                .take(max + 1)
                .map_ok(|o| serde_json::to_value(o).unwrap_or_default())
                .try_collect()
                .await?;
            let truncated = orders.len() > max;
            orders.truncate(max);
            Ok((orders, truncated))
        }
        .await;
        match pulled {
            Ok((orders, truncated)) => ShopOrders {
                shop_id,
                ok: true,
                orders,
                truncated,
                error: None,
            },
            Err(e) => {
                tracing::warn!(shop = shop_id, code = %e.code, "Kuaishou batch order query: shop failed");
                ShopOrders {
                    shop_id,
                    ok: false,
                    orders: vec![],
                    truncated: false,
                    error: Some(ShopFailure {
                        code: e.code.to_string(),
                        message: e.message,
                    }),
                }
            }
        }
    };
    let shops: Vec<ShopOrders> = futures_util::stream::iter(q.shop_ids.iter().copied())
        .map(one_shop)
        .buffered(platform.config.batch_concurrency)
        .collect()
        .await;
    let failed = shops.iter().filter(|s| !s.ok).count();
    Ok(BatchOrderResult { shops, failed })
}
