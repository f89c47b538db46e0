//! `/cs/stats/daily`: the daily statistics (computed by the hourly job, or `shopops
//! cs stats --date D`).

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{Code, ErrorEnvelope};
use shopops_kernel::{AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use crate::entities::stat_daily;
use crate::permissions;
use crate::service::shops::{self, ShopScope};
use crate::service::stats::DayFigures;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First day, `YYYY-MM-DD` (the tenant's time zone).
    pub from: NaiveDate,
    /// Last day, inclusive; at most 366 days after `from`.
    pub to: NaiveDate,
    /// One shop; absent: every shop of the caller and (admins) the tenant's totals.
    pub shop_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayRow {
    pub day: String,
    /// 0: the whole tenant.
    pub shop_id: i64,
    #[serde(flatten)]
    pub figures: DayFigures,
}

/// Daily figures per shop and for the tenant (`shop_id` 0), oldest day first
/// (permission `cs:stats:read`).
#[utoipa::path(get, path = "/stats/daily", tag = "cs", operation_id = "daily_stats", params(StatsQuery),
    responses((status = 200, body = Vec<DayRow>), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope, description = "no such shop (among the caller's)")),
    security(("bearer" = [])))]
pub async fn daily(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<StatsQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::STATS_READ)?;
    let q = q.into_inner();
    if q.to < q.from || (q.to - q.from).num_days() > 366 {
        return Err(Code::InvalidQuery
            .err()
            .with_details(serde_json::json!({ "reason": "`to` must be on or after `from`, at most 366 days later" })));
    }
    let scope = ShopScope::of(&kernel, &principal).await?;
    let mut query = stat_daily::Entity::find()
        .filter(stat_daily::Column::TenantId.eq(principal.tenant_id))
        .filter(stat_daily::Column::Day.gte(q.from.format("%Y-%m-%d").to_string()))
        .filter(stat_daily::Column::Day.lte(q.to.format("%Y-%m-%d").to_string()));
    query = match (q.shop_id, &scope) {
        (Some(shop), _) => {
            let shop = shops::find(&kernel.db, &scope, principal.tenant_id, shop).await?;
            query.filter(stat_daily::Column::ShopId.eq(shop.id))
        }
        (None, ShopScope::All) => query,
        (None, ShopScope::Only(_)) => query.filter(scope.condition(stat_daily::Column::ShopId)),
    };
    let rows = query
        .order_by_asc(stat_daily::Column::Day)
        .order_by_asc(stat_daily::Column::ShopId)
        .all(&kernel.db)
        .await?;
    let out: Vec<DayRow> = rows
        .into_iter()
        .map(|r| DayRow {
            day: r.day,
            shop_id: r.shop_id,
            figures: DayFigures {
                messages: r.messages,
                auto_sent: r.auto_sent,
                reviewed: r.reviewed,
                approved_unedited: r.approved_unedited,
                approved_edited: r.approved_edited,
                rejected: r.rejected,
                kb_answered: r.kb_answered,
                kb_hit_rate: r.kb_hit_rate,
                ai_accuracy: r.ai_accuracy,
                median_secs: r.median_secs,
                p95_secs: r.p95_secs,
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
