//! Refunds kept locally (`kuaishou_refunds`): written by the message-push handler when
//! a buyer opens or changes an after-sales request, newest copy wins.

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement, Value as DbValue};
use shopops_kernel::AppResult;

use crate::entities::shop;
use crate::typed::refunds::RefundInfo;

/// Stores a refund unless the stored copy is as new or newer; true when written.
pub async fn store_refund<C: ConnectionTrait>(
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
