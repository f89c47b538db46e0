//! `/api/v1/gateway`: HTTP handlers only — extract, authorise, call the service, map.

pub mod captchas;
pub mod platforms;
pub mod requests;

use actix_web::web;
use sea_orm::ConnectionTrait;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::http::RequestContext;
use shopops_kernel::AppResult;
use utoipa::OpenApi;

/// What the handlers share.
pub type State = crate::service::Gateway;

/// The audit record of a change to, or a use of, platform `id`.
async fn record<C: ConnectionTrait>(
    txn: &C,
    ctx: &RequestContext,
    principal: &Principal,
    action: &'static str,
    id: i64,
    summary: serde_json::Value,
) -> AppResult<()> {
    let change = Change {
        tenant_id: principal.tenant_id,
        action,
        target_type: "gateway_platform",
        target_id: id.to_string(),
        summary,
    };
    audit::record(txn, ctx, &principal.actor(), change).await?;
    Ok(())
}

/// Routes, inside the module's `/api/v1/gateway` scope.
pub fn routes(cfg: &mut web::ServiceConfig, state: &web::Data<State>) {
    use web::{delete, get, patch, post, resource};
    cfg.app_data(state.clone())
        .service(
            resource("/platforms")
                .route(get().to(platforms::list_platforms))
                .route(post().to(platforms::create_platform)),
        )
        .service(
            resource("/platforms/{id}")
                .route(get().to(platforms::get_platform))
                .route(patch().to(platforms::update_platform))
                .route(delete().to(platforms::delete_platform)),
        )
        .service(resource("/platforms/{id}/sessions").route(get().to(platforms::list_sessions)))
        .service(resource("/platforms/{id}/login").route(post().to(requests::force_login)))
        .service(resource("/platforms/{id}/request").route(post().to(requests::request)))
        .service(resource("/captchas/pending").route(get().to(captchas::pending)))
        .service(resource("/captchas/{id}").route(post().to(captchas::answer)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/gateway`).
#[derive(OpenApi)]
#[openapi(
    paths(
        platforms::create_platform, platforms::list_platforms, platforms::get_platform,
        platforms::update_platform, platforms::delete_platform, platforms::list_sessions,
        requests::force_login, requests::request, captchas::pending, captchas::answer,
    ),
    tags((name = "gateway", description = "Cookie+session platforms: captcha login, shared sessions, calls"))
)]
pub struct ApiDoc;
