//! Orders of several shops at once: each shop pulled with the cursor API, a bounded
//! number at a time (`KUAISHOU_BATCH_CONCURRENCY`), and every shop's failure reported
//! beside the others' orders instead of failing the whole query.

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::platform::Platform;
use crate::service::calls;
use crate::store;
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
    #[schema(minimum = 0, maximum = 9999999999999_i64)]
    pub begin_time: i64,
    /// Epoch milliseconds, exclusive.
    #[schema(minimum = 0, maximum = 9999999999999_i64)]
    pub end_time: i64,
    /// 1 by create time (default), 2 by update time.
    #[schema(minimum = 1, maximum = 2)]
    pub query_type: Option<i32>,
    /// Orders returned per shop at most (default 1000, at most 10000); `truncated` says
    /// when a shop had more.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_orders_per_shop: Option<usize>,
}

/// One shop's part of the answer.
#[derive(Debug)]
pub struct ShopPull {
    pub shop_id: i64,
    pub result: AppResult<PulledOrders>,
}

#[derive(Debug)]
pub struct PulledOrders {
    /// The platform's orders (`orderBaseInfo`, `orderItemInfo`, …).
    pub orders: Vec<Value>,
    /// The shop had more than `max_orders_per_shop`.
    pub truncated: bool,
}

fn validate(q: &BatchOrderQuery) -> AppResult<usize> {
    let mut errors = FieldErrors::new();
    if q.shop_ids.is_empty() || q.shop_ids.len() > MAX_SHOPS {
        errors.add(
            "shop_ids",
            tr!(
                "需要 1 到 {MAX_SHOPS} 个店铺 id",
                "1 to {MAX_SHOPS} shop ids"
            ),
        );
    }
    let mut unique = q.shop_ids.clone();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != q.shop_ids.len() {
        errors.add("shop_ids", tr!("每个店铺只能出现一次", "each shop once"));
    }
    if q.end_time <= q.begin_time || q.begin_time < 0 || q.end_time > 9_999_999_999_999 {
        errors.add(
            "end_time",
            tr!(
                "必须晚于 begin_time（毫秒时间戳）",
                "after begin_time (epoch milliseconds)"
            ),
        );
    }
    if q.query_type.is_some_and(|t| t != 1 && t != 2) {
        errors.add(
            "query_type",
            tr!(
                "1（按创建时间）或 2（按更新时间）",
                "1 (create time) or 2 (update time)"
            ),
        );
    }
    let max = q.max_orders_per_shop.unwrap_or(DEFAULT_MAX_ORDERS);
    if max == 0 || max > MAX_ORDERS {
        errors.add(
            "max_orders_per_shop",
            tr!("1 到 {MAX_ORDERS}", "1 to {MAX_ORDERS}"),
        );
    }
    errors.into_result().map(|()| max)
}

/// Runs the query for the tenant's shops, one entry per requested shop in the order
/// asked; a shop of another tenant fails as not found, like one that does not exist.
pub async fn query_orders(
    kernel: &Kernel,
    platform: &Platform,
    tenant: i64,
    q: &BatchOrderQuery,
) -> AppResult<Vec<ShopPull>> {
    let max = validate(q)?;
    let one_shop = |shop_id: i64| async move {
        let result = async {
            let shop = store::shop(&kernel.db, tenant, shop_id).await?;
            let request = OrderCursorList {
                page_size: Some(100),
                query_type: Some(q.query_type.unwrap_or(1)),
                begin_time: q.begin_time,
                end_time: q.end_time,
                ..Default::default()
            };
            // One more than the cap tells whether the shop had more.
            let mut orders: Vec<Value> = calls::orders(kernel, platform, &shop, request)
                .take(max + 1)
                .map_ok(|o| serde_json::to_value(o).unwrap_or_default())
                .try_collect()
                .await?;
            let truncated = orders.len() > max;
            orders.truncate(max);
            Ok::<_, AppError>(PulledOrders { orders, truncated })
        }
        .await;
        if let Err(e) = &result {
            tracing::warn!(shop = shop_id, code = %e.code, "Kuaishou batch order query: shop failed");
        }
        ShopPull { shop_id, result }
    };
    Ok(futures_util::stream::iter(q.shop_ids.iter().copied())
        .map(one_shop)
        .buffered(platform.config.batch_concurrency)
        .collect()
        .await)
}
