//! `/api/v1/kuaishou`: shop authorisation (authorise URL, OAuth callback), shops, token
//! refresh, disconnect, and the shop-info call.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::auth::tokens::random_token;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Order, Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use crate::entities::shop;
use crate::platform::Platform;
use crate::shops::{self, ShopView};

/// How long a seller has to finish authorising.
const STATE_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// Overrides `KUAISHOU_REDIRECT_URI`; must be registered with the platform.
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeUrl {
    pub url: String,
    /// Binds the callback to this tenant and user; single use.
    pub state: String,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the platform when the seller declined.
    pub error: Option<String>,
}

/// The platform's `data`, passed on as it was sent.
fn raw_json(data: &serde_json::value::RawValue) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(data.get().to_string())
}

fn state_key(state: &str) -> String {
    format!("kuaishou:oauth_state:{state}")
}

/// A URL to send a seller to, to authorise one of their shops (permission
/// `kuaishou:manage`).
#[utoipa::path(get, path = "/shops/authorize-url", tag = "kuaishou", params(AuthorizeQuery),
    responses((status = 200, body = AuthorizeUrl), (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn authorize_url(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    q: web::Query<AuthorizeQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:manage")?;
    let redirect = q
        .redirect_uri
        .clone()
        .or_else(|| platform.config.redirect_uri.clone())
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"));
    let Some(redirect) = redirect else {
        let mut errors = shopops_kernel::error::FieldErrors::new();
        errors.add(
            "redirect_uri",
            "give an http(s) redirect_uri or set KUAISHOU_REDIRECT_URI",
        );
        return Err(AppError::validation(errors));
    };
    let state = random_token();
    let url = platform.authorize_url(&redirect, &state)?;
    let owner = json!({ "tenant_id": principal.tenant_id, "user_id": principal.user_id, "username": principal.username });
    kernel
        .cache
        .cache
        .set(&state_key(&state), &owner.to_string(), STATE_TTL)
        .await?;
    Ok(HttpResponse::Ok().json(AuthorizeUrl {
        url,
        state,
        expires_in: STATE_TTL.as_secs(),
    }))
}

/// Where the platform sends the seller back: the code is exchanged for tokens (once),
/// which are stored encrypted. No bearer token: the `state` binds it to the tenant.
#[utoipa::path(get, path = "/oauth/callback", tag = "kuaishou", params(CallbackQuery),
    responses((status = 200, body = ShopView), (status = 400, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope)))]
pub async fn oauth_callback(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    ctx: RequestContext,
    q: web::Query<CallbackQuery>,
) -> AppResult<HttpResponse> {
    let invalid = || {
        AppError::bad_request(
            "INVALID_OAUTH_STATE",
            "this authorisation link is unknown, used or expired; start again",
        )
    };
    let state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(invalid)?;
    let owner = kernel
        .cache
        .cache
        .get(&state_key(state))
        .await?
        .ok_or_else(invalid)?;
    // Single use: a replayed callback finds nothing.
    kernel.cache.cache.delete(&state_key(state)).await?;
    if let Some(error) = &q.error {
        return Err(AppError::bad_request(
            "KUAISHOU_AUTHORISATION_DECLINED",
            "the seller did not authorise the shop",
        )
        .with_details(json!({ "error": error })));
    }
    let code = q.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| {
        AppError::bad_request("INVALID_OAUTH_CALLBACK", "the callback has no code")
    })?;
    let owner: serde_json::Value = serde_json::from_str(&owner).map_err(AppError::internal)?;
    let tenant = owner["tenant_id"].as_i64().ok_or_else(invalid)?;
    let actor = Actor {
        id: owner["user_id"].as_i64(),
        name: owner["username"].as_str().unwrap_or("seller").to_string(),
    };
    let tokens = platform.exchange_code(code).await?;
    let saved = shops::save_authorised(&kernel, tenant, tokens, &actor, &ctx).await?;
    Ok(HttpResponse::Ok().json(shops::view(saved)))
}

/// The tenant's shops and the health of their tokens (permission `kuaishou:read`).
#[utoipa::path(get, path = "/shops", tag = "kuaishou", responses((status = 200, body = Vec<ShopView>)), security(("bearer" = [])))]
pub async fn list_shops(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:read")?;
    let rows = shop::Entity::find()
        .filter(shop::Column::TenantId.eq(principal.tenant_id))
        .order_by_asc(shop::Column::Id)
        .all(&kernel.db)
        .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(shops::view).collect::<Vec<_>>()))
}

/// Refresh a shop's tokens now (permission `kuaishou:manage`); concurrent requests,
/// from any replica, cause one refresh.
#[utoipa::path(post, path = "/shops/{id}/refresh", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 200, body = ShopView), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn refresh_shop(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:manage")?;
    let refreshed =
        shops::refresh(&kernel, &platform, principal.tenant_id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(shops::view(refreshed)))
}

/// Disconnect a shop: its tokens are erased (permission `kuaishou:manage`).
#[utoipa::path(delete, path = "/shops/{id}", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn disconnect_shop(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:manage")?;
    let (tenant, id) = (principal.tenant_id, id.into_inner());
    let found = shops::find(&kernel, tenant, id).await?;
    idempotency::execute(&kernel, None, async |txn| {
        shop::Entity::update_many()
            .col_expr(
                shop::Column::Status,
                Expr::value(shops::ShopStatus::Revoked.as_str()),
            )
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
            .exec(txn)
            .await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: tenant,
                action: "kuaishou.shop.disconnect",
                target_type: "kuaishou_shop",
                target_id: id.to_string(),
                summary: json!({ "open_id": found.open_id }),
            },
        )
        .await?;
        Ok(WriteOutcome::no_content())
    })
    .await
}

/// The shop's own information from the platform (`open.shop.info.get`; permission
/// `kuaishou:read`).
#[utoipa::path(get, path = "/shops/{id}/info", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 200, description = "the platform's `data`"), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn shop_info(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:read")?;
    let found = shops::find(&kernel, principal.tenant_id, id.into_inner()).await?;
    let data = shops::call(&kernel, &platform, &found, "open.shop.info.get", None).await?;
    Ok(raw_json(&data))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushAck {
    /// 1: received (also for a message already received).
    pub result: i32,
    /// True when every shop holding the seller had this message already.
    pub duplicate: bool,
}

/// Message push from the platform: verified, decrypted when encrypted, stored once per
/// message id for each shop that holds the seller (revoked shops get nothing) before it
/// is acknowledged; a message for a seller nobody holds is acknowledged and dropped.
/// No bearer token: the signature authenticates.
#[utoipa::path(post, path = "/webhooks", tag = "kuaishou",
    params(("X-Kuaishou-Signature" = String, Header), ("X-Kuaishou-Timestamp" = String, Header)),
    responses((status = 200, body = PushAck), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
pub async fn webhook(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    crate::push::verify(
        &platform.config,
        header("X-Kuaishou-Signature"),
        header("X-Kuaishou-Timestamp"),
        &body,
        Utc::now().timestamp(),
    )?;
    let message = crate::push::open(&platform.config, &body)?;
    let event = message["event"].as_str().unwrap_or_default().to_string();
    let (outcome, new) = match crate::push::store(&kernel, &message).await? {
        crate::push::Stored::New(rows) => ("stored", rows),
        crate::push::Stored::Duplicate => ("duplicate", vec![]),
        crate::push::Stored::Unowned => {
            // Acknowledged so the platform stops resending; nobody here may see it.
            tracing::info!(event = %event, "Kuaishou push for a seller no shop here holds: dropped");
            ("unowned", vec![])
        }
    };
    platform
        .metrics
        .push_events
        .with_label_values(&[&event, outcome])
        .inc();
    let duplicate = outcome == "duplicate";
    for row in new.into_iter().filter(|r| r.dispatch_status == "pending") {
        // Answer now; the handlers run in the background (the sweep job retries them
        // if this process stops first).
        let (kernel, platform) = (kernel.get_ref().clone(), platform.get_ref().clone());
        tokio::spawn(async move {
            if let Err(e) = crate::events::dispatch(&kernel, &platform, row).await {
                tracing::warn!(error = %e, "Kuaishou event dispatch deferred to the sweep");
            }
        });
    }
    Ok(HttpResponse::Ok().json(PushAck {
        result: 1,
        duplicate,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Message-push events of the tenant's shops, newest first (permission `kuaishou:read`).
#[utoipa::path(get, path = "/events", tag = "kuaishou", params(EventQuery), responses((status = 200, description = "a page of events")), security(("bearer" = [])))]
pub async fn list_events(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<EventQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:read")?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .resolve()?;
    let query = crate::entities::event::Entity::find()
        .filter(crate::entities::event::Column::TenantId.eq(principal.tenant_id));
    let found = page
        .fetch(
            query,
            crate::entities::event::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |e| e.id,
        )
        .await?;
    let page = found.map(|e| {
        json!({ "id": e.id, "message_id": e.message_id, "event": e.event, "shop_id": e.shop_id, "payload": e.payload, "received_at": e.received_at,
            "dispatch": { "status": e.dispatch_status, "attempts": e.attempts, "next_attempt_at": e.next_attempt_at, "last_error": e.last_error } })
    });
    Ok(HttpResponse::Ok().json(page))
}

/// Pull the shop's orders now, from its checkpoint (permission `kuaishou:manage`).
#[utoipa::path(post, path = "/shops/{id}/sync", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 200, body = crate::sync::SyncReport), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn sync_shop(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:manage")?;
    let found = shops::find(&kernel, principal.tenant_id, id.into_inner()).await?;
    let report = crate::sync::sync_shop(&kernel, &platform, &found, None, &|_| {}).await?;
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
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ShopRecordsQuery {
    /// This page of a table of shop records (orders, refunds), newest first; `columns`
    /// are its tenant, shop, status and id columns.
    async fn page<E: EntityTrait>(
        &self,
        kernel: &Kernel,
        tenant_id: i64,
        [tenant, shop, status, id]: [E::Column; 4],
        key: impl Fn(&E::Model) -> i64,
    ) -> AppResult<Page<E::Model>> {
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .resolve()?;
        let mut query = E::find().filter(tenant.eq(tenant_id));
        if let Some(s) = self.shop_id {
            query = query.filter(shop.eq(s));
        }
        if let Some(s) = self.status {
            query = query.filter(status.eq(s));
        }
        page.fetch(query, id, Order::NewestFirst, &kernel.db, key)
            .await
    }
}

/// Synced orders of the tenant's shops, newest first (permission `kuaishou:read`).
#[utoipa::path(get, path = "/orders", tag = "kuaishou", params(ShopRecordsQuery), responses((status = 200, description = "a page of orders")), security(("bearer" = [])))]
pub async fn list_orders(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<ShopRecordsQuery>,
) -> AppResult<HttpResponse> {
    use crate::entities::order::{Column, Entity};
    principal.require(&kernel, "kuaishou:read")?;
    let columns = [Column::TenantId, Column::ShopId, Column::Status, Column::Id];
    let found = q
        .page::<Entity>(&kernel, principal.tenant_id, columns, |o| o.id)
        .await?;
    let page = found.map(|o| {
        json!({ "id": o.id, "shop_id": o.shop_id, "oid": o.oid, "status": o.status, "total_fee": o.total_fee, "pay_time": o.pay_time, "update_time": o.update_time, "synced_at": o.synced_at })
    });
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// Any method of the catalogue, e.g. `open.item.list.get`.
    pub method: String,
    /// Business parameters by wire name; sent in the catalogue's order.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// Call any open-platform method for a shop by name (permission `kuaishou:manage`):
/// verb and version from the catalogue, the shop's token, the platform's `data` back.
#[utoipa::path(post, path = "/shops/{id}/call", tag = "kuaishou", params(("id" = i64, Path)), request_body = CallRequest,
    responses((status = 200, description = "the platform's `data`"), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn call_method(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<CallRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:manage")?;
    let body = body.into_inner();
    let method = crate::catalogue::find(&body.method).ok_or_else(|| {
        AppError::bad_request(
            "KUAISHOU_UNKNOWN_METHOD",
            format!("`{}` is not a Kuaishou method", body.method),
        )
        .with_details(json!({ "hint": "shopops kuaishou methods" }))
    })?;
    let param = crate::catalogue::param_json(method, &body.params).map_err(|e| {
        AppError::bad_request("INVALID_REQUEST_BODY", e).with_details(
            json!({ "valid_params": method.accepted().map(|p| &p.name).collect::<Vec<_>>() }),
        )
    })?;
    let found = shops::find(&kernel, principal.tenant_id, id.into_inner()).await?;
    tracing::info!(request_id = %ctx.request_id, shop = found.id, method = %method.method, "Kuaishou call by name");
    let data = shops::call(&kernel, &platform, &found, &method.method, param.as_deref()).await?;
    Ok(raw_json(&data))
}

/// Orders of several shops at once, pulled from the platform now (permission
/// `kuaishou:read`): shops are queried a bounded number at a time
/// (`KUAISHOU_BATCH_CONCURRENCY`), and a shop that fails is reported in its entry
/// without failing the others.
#[utoipa::path(post, path = "/orders/query", tag = "kuaishou", request_body = crate::batch::BatchOrderQuery,
    responses((status = 200, body = crate::batch::BatchOrderResult), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn query_orders(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    body: web::Json<crate::batch::BatchOrderQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "kuaishou:read")?;
    let result = crate::batch::query_orders(&kernel, &platform, principal.tenant_id, &body).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Refunds of the tenant's shops kept from message-push events, newest first
/// (permission `kuaishou:read`).
#[utoipa::path(get, path = "/refunds", tag = "kuaishou", params(ShopRecordsQuery), responses((status = 200, description = "a page of refunds")), security(("bearer" = [])))]
pub async fn list_refunds(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<ShopRecordsQuery>,
) -> AppResult<HttpResponse> {
    use crate::entities::refund::{Column, Entity};
    principal.require(&kernel, "kuaishou:read")?;
    let columns = [Column::TenantId, Column::ShopId, Column::Status, Column::Id];
    let found = q
        .page::<Entity>(&kernel, principal.tenant_id, columns, |r| r.id)
        .await?;
    let page = found.map(|r| {
        json!({ "id": r.id, "shop_id": r.shop_id, "refund_id": r.refund_id, "order_id": r.order_id, "status": r.status, "handling_way": r.handling_way, "refund_fee": r.refund_fee, "update_time": r.update_time, "synced_at": r.synced_at })
    });
    Ok(HttpResponse::Ok().json(page))
}
