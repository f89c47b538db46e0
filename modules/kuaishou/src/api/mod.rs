//! HTTP handlers of `/api/v1/kuaishou`: extract, authorise, call the service, map the
//! answer. [`routes`] registers them; [`ApiDoc`] is their OpenAPI document.

pub mod calls;
pub mod orders;
pub mod push;
pub mod shops;

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

/// Registers the routes inside the `/api/v1/kuaishou` scope. One resource per path, so
/// a method the path does not serve is 405, not 404.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, resource};
    cfg.service(resource("/shops/authorize-url").route(get().to(shops::authorize_url)))
        .service(resource("/oauth/callback").route(get().to(shops::oauth_callback)))
        .service(resource("/shops").route(get().to(shops::list_shops)))
        .service(resource("/shops/{id}").route(delete().to(shops::disconnect_shop)))
        .service(resource("/shops/{id}/refresh").route(post().to(shops::refresh_shop)))
        .service(resource("/shops/{id}/info").route(get().to(shops::shop_info)))
        .service(resource("/shops/{id}/sync").route(post().to(orders::sync_shop)))
        .service(resource("/shops/{id}/call").route(post().to(calls::call_method)))
        .service(resource("/webhooks").route(post().to(push::webhook)))
        .service(resource("/events").route(get().to(push::list_events)))
        .service(resource("/orders").route(get().to(orders::list_orders)))
        .service(resource("/orders/query").route(post().to(orders::query_orders)))
        .service(resource("/refunds").route(get().to(orders::list_refunds)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/kuaishou`).
#[derive(OpenApi)]
#[openapi(
    paths(
        shops::authorize_url,
        shops::oauth_callback,
        shops::list_shops,
        shops::refresh_shop,
        shops::disconnect_shop,
        shops::shop_info,
        push::webhook,
        push::list_events,
        orders::sync_shop,
        orders::list_orders,
        orders::query_orders,
        orders::list_refunds,
        calls::call_method,
    ),
    components(schemas(push::EventView, orders::OrderView, orders::RefundView)),
    tags((name = "kuaishou", description = "Kuaishou shops: authorisation, tokens, platform calls, order sync, message push"))
)]
pub struct ApiDoc;

/// The platform's `data`, passed on as it was sent.
fn raw_json(data: &serde_json::value::RawValue) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(data.get().to_string())
}
