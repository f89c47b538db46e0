//! Shops: authorisation (authorise URL, OAuth callback), the list with token health,
//! token refresh, disconnect, and the shop's own information from the platform.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::IntoParams;

use crate::permissions;
use crate::platform::Platform;
use crate::service::shops::{self, AuthorizeUrl, ShopView};
use crate::store;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// Overrides `KUAISHOU_REDIRECT_URI`; must be registered with the platform.
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the platform when the seller declined.
    pub error: Option<String>,
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
    principal.require(&kernel, &permissions::MANAGE)?;
    let started = shops::start_authorisation(
        &kernel,
        &platform,
        principal.tenant_id,
        &principal.actor(),
        q.into_inner().redirect_uri,
    )
    .await?;
    Ok(HttpResponse::Ok().json(started))
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
    let saved = shops::finish_authorisation(
        &kernel,
        &platform,
        &ctx,
        q.state.as_deref(),
        q.code.as_deref(),
        q.error.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(shops::view(saved)))
}

/// The tenant's shops and the health of their tokens (permission `kuaishou:read`).
#[utoipa::path(get, path = "/shops", tag = "kuaishou", responses((status = 200, body = Vec<ShopView>)), security(("bearer" = [])))]
pub async fn list_shops(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let rows = store::shops(&kernel.db, principal.tenant_id).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(shops::view).collect::<Vec<_>>()))
}

/// Refresh a shop's tokens now (permission `kuaishou:manage`); concurrent requests,
/// from any replica, cause one refresh.
#[utoipa::path(post, path = "/shops/{id}/refresh", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 200, body = ShopView), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope), (status = 409, description = "KUAISHOU_SHOP_REVOKED", body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn refresh_shop(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
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
    principal.require(&kernel, &permissions::MANAGE)?;
    let found = store::shop(&kernel.db, principal.tenant_id, id.into_inner()).await?;
    idempotency::execute(&kernel, None, async |txn| {
        shops::disconnect(txn, &ctx, &principal.actor(), &found).await?;
        Ok(WriteOutcome::no_content())
    })
    .await
}

/// The shop's own information from the platform (`open.shop.info.get`; permission
/// `kuaishou:read`).
#[utoipa::path(get, path = "/shops/{id}/info", tag = "kuaishou", params(("id" = i64, Path)),
    responses((status = 200, body = Object, description = "the platform's `data`"), (status = 404, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope), (status = 409, description = "KUAISHOU_SHOP_REVOKED", body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn shop_info(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let found = store::shop(&kernel.db, principal.tenant_id, id.into_inner()).await?;
    let data = shops::call(&kernel, &platform, &found, "open.shop.info.get", None).await?;
    Ok(super::raw_json(&data))
}
