//! Kuaishou shop open-platform bridge (routes under `/api/v1/kuaishou`).
//!
//! - [`client`]: requests signed byte-for-byte like the official SDK, answers classified;
//! - [`catalogue`]: every method with verb, version and parameters; [`dry_run`];
//! - [`platform`]: signed calls and OAuth through the kernel's outside-call toolkit;
//! - [`shops`]: authorised shops, encrypted tokens, once-per-shop refresh; [`api`];
//! - [`typed`] + [`calls`]: typed requests and answers of the core methods, paged
//!   methods as streams; [`batch`]: several shops' orders at once;
//! - [`sync`]: order sync; [`push`] + [`events`]: message push, typed dispatch;
//! - [`health`], [`alerts`], [`metrics`]: what operators see.

pub mod alerts;
pub mod api;
pub mod batch;
pub mod calls;
pub mod catalogue;
pub mod client;
pub mod config;
pub mod dry_run;
pub mod entities;
pub mod events;
pub mod health;
pub mod metrics;
pub mod platform;
pub mod push;
pub mod refunds;
pub mod shops;
pub mod sync;
pub mod typed;

use actix_web::web;
use utoipa::OpenApi;

/// Routes, to be mounted at `/api/v1/kuaishou`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, resource};
    cfg.service(resource("/shops/authorize-url").route(get().to(api::authorize_url)))
        .service(resource("/oauth/callback").route(get().to(api::oauth_callback)))
        .service(resource("/shops").route(get().to(api::list_shops)))
        .service(resource("/shops/{id}").route(delete().to(api::disconnect_shop)))
        .service(resource("/shops/{id}/refresh").route(post().to(api::refresh_shop)))
        .service(resource("/shops/{id}/info").route(get().to(api::shop_info)))
        .service(resource("/webhooks").route(post().to(api::webhook)))
        .service(resource("/events").route(get().to(api::list_events)))
        .service(resource("/shops/{id}/sync").route(post().to(api::sync_shop)))
        .service(resource("/orders").route(get().to(api::list_orders)))
        .service(resource("/orders/query").route(post().to(api::query_orders)))
        .service(resource("/refunds").route(get().to(api::list_refunds)))
        .service(resource("/shops/{id}/call").route(post().to(api::call_method)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/kuaishou`).
#[derive(OpenApi)]
#[openapi(
    paths(api::authorize_url, api::oauth_callback, api::list_shops, api::refresh_shop, api::disconnect_shop, api::shop_info, api::webhook, api::list_events, api::sync_shop, api::list_orders, api::query_orders, api::list_refunds, api::call_method),
    tags((name = "kuaishou", description = "Kuaishou shops: authorisation, tokens, platform calls"))
)]
pub struct ApiDoc;

pub mod jobs {
    //! The order-sync job: every active shop, every 5 minutes, four shops at a time;
    //! the event-dispatch sweep is [`crate::events::dispatch_job`].

    pub use crate::events::dispatch_job as event_dispatch;

    use std::sync::Arc;
    use std::time::Duration;

    use shopops_kernel::Kernel;

    use crate::platform::Platform;

    pub async fn order_sync(kernel: Kernel, platform: Arc<Platform>) {
        shopops_kernel::jobs::every(
            kernel,
            "kuaishou_order_sync",
            Duration::from_secs(300),
            move |k| {
                let platform = platform.clone();
                async move {
                    if !platform.config.is_configured() {
                        return Ok(());
                    }
                    let results = crate::sync::sync_all(&k, &platform)
                        .await
                        .map_err(|e| e.message)?;
                    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
                    if failed > 0 {
                        return Err(format!(
                            "{failed} of {} shops failed to sync",
                            results.len()
                        ));
                    }
                    Ok(())
                }
            },
        )
        .await
    }
}
