//! `/api/v1/gateway`: HTTP handlers only — extract, authorise, call the service, map.

pub mod captchas;
pub mod platforms;
pub mod requests;

use actix_web::web;
use utoipa::OpenApi;

/// What the handlers share.
pub type State = crate::service::Gateway;

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
