//! Orders and refunds: sync a shop now, the tenant's synced orders and refunds, and
//! several shops' orders pulled from the platform at once.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{ErrorBody, ErrorEnvelope, Lang};
use shopops_kernel::http::pagination::{Page, PageQuery};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use crate::entities::{order, refund};
use crate::permissions;
use crate::platform::Platform;
use crate::service::batch::{self, BatchOrderQuery, PulledOrders};
use crate::service::sync::{self, SyncReport};
use crate::store::{self, RecordFilter};

/// Pull the shop's orders now, from its checkpoint (permission `kuaishou:manage`).
#[utoipa::path(post, path = "/shops/{id}/sync", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 200, body = SyncReport), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope), (status = 409, description = "KUAISHOU_SHOP_REVOKED", body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn sync_shop(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let found = store::shop(&kernel.db, principal.tenant_id, id.into_inner()).await?;
    let report = sync::sync_shop(&kernel, &platform, &found, None, &|_| {}).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Filters and page of the tenant's synced orders or refunds.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopRecordsQuery {
    /// Only this shop's.
    pub shop_id: Option<i64>,
    /// Only this platform status.
    pub status: Option<i64>,
    /// Items per page, 1..=100. Default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ShopRecordsQuery {
    fn filter(&self) -> RecordFilter {
        RecordFilter {
            shop_id: self.shop_id,
            status: self.status,
        }
    }

    fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

/// A synced order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub shop_id: i64,
    /// The platform's order id, as text (it exceeds 2^53).
    pub oid: String,
    pub status: i64,
    /// In fen.
    pub total_fee: i64,
    /// Epoch milliseconds.
    pub pay_time: Option<i64>,
    /// Epoch milliseconds.
    pub update_time: i64,
    pub synced_at: DateTime<Utc>,
}

fn order_view(o: order::Model) -> OrderView {
    OrderView {
        id: o.id,
        shop_id: o.shop_id,
        oid: o.oid,
        status: o.status,
        total_fee: o.total_fee,
        pay_time: o.pay_time,
        update_time: o.update_time,
        synced_at: o.synced_at,
    }
}

/// Synced orders of the tenant's shops, newest first (permission `kuaishou:read`).
#[utoipa::path(get, path = "/orders", tag = "kuaishou", params(ShopRecordsQuery), responses((status = 200, body = Page<OrderView>)), security(("bearer" = [])))]
pub async fn list_orders(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<ShopRecordsQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let page = q.page().resolve()?;
    let found = store::orders(&kernel.db, principal.tenant_id, q.filter(), page).await?;
    Ok(HttpResponse::Ok().json(found.map(order_view)))
}

/// A refund kept from message-push events.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KuaishouRefund)]
pub struct RefundView {
    pub id: i64,
    pub shop_id: i64,
    /// The platform's ids, as text (they exceed 2^53).
    pub refund_id: String,
    pub order_id: String,
    pub status: i64,
    pub handling_way: Option<i64>,
    /// In fen.
    pub refund_fee: Option<i64>,
    /// Epoch milliseconds.
    pub update_time: i64,
    pub synced_at: DateTime<Utc>,
}

fn refund_view(r: refund::Model) -> RefundView {
    RefundView {
        id: r.id,
        shop_id: r.shop_id,
        refund_id: r.refund_id,
        order_id: r.order_id,
        status: r.status,
        handling_way: r.handling_way,
        refund_fee: r.refund_fee,
        update_time: r.update_time,
        synced_at: r.synced_at,
    }
}

/// Refunds of the tenant's shops kept from message-push events, newest first
/// (permission `kuaishou:read`).
#[utoipa::path(get, path = "/refunds", tag = "kuaishou", params(ShopRecordsQuery), responses((status = 200, body = Page<RefundView>)), security(("bearer" = [])))]
pub async fn list_refunds(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<ShopRecordsQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let page = q.page().resolve()?;
    let found = store::refunds(&kernel.db, principal.tenant_id, q.filter(), page).await?;
    Ok(HttpResponse::Ok().json(found.map(refund_view)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopFailure {
    pub code: String,
    /// In the language `Accept-Language` asks for, like an error envelope's.
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

fn shop_orders(shop_id: i64, result: AppResult<PulledOrders>, lang: Lang) -> ShopOrders {
    match result {
        Ok(pulled) => ShopOrders {
            shop_id,
            ok: true,
            orders: pulled.orders,
            truncated: pulled.truncated,
            error: None,
        },
        Err(e) => ShopOrders {
            shop_id,
            ok: false,
            orders: vec![],
            truncated: false,
            error: Some(failure(e, lang)),
        },
    }
}

fn failure(e: AppError, lang: Lang) -> ShopFailure {
    let body = ErrorBody {
        code: e.code.clone(),
        message: e.message,
        details: *e.details,
    };
    ShopFailure {
        code: e.code.into_owned(),
        message: body.render(lang).0,
    }
}

/// Orders of several shops at once, pulled from the platform now (permission
/// `kuaishou:read`): shops are queried a bounded number at a time
/// (`KUAISHOU_BATCH_CONCURRENCY`), and a shop that fails is reported in its entry
/// without failing the others.
#[utoipa::path(post, path = "/orders/query", tag = "kuaishou", request_body = BatchOrderQuery,
    responses((status = 200, body = BatchOrderResult), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn query_orders(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    lang: Lang,
    body: web::Json<BatchOrderQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let pulls = batch::query_orders(&kernel, &platform, principal.tenant_id, &body).await?;
    let shops: Vec<ShopOrders> = pulls
        .into_iter()
        .map(|p| shop_orders(p.shop_id, p.result, lang))
        .collect();
    let failed = shops.iter().filter(|s| !s.ok).count();
    Ok(HttpResponse::Ok().json(BatchOrderResult { shops, failed }))
}
