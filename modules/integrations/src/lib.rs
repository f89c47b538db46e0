//! Integrations: payment (WeChat Pay, Alipay), SMS (Tencent Cloud, Aliyun), storage
//! (Tencent COS, S3-compatible, local files) and captcha (Chaojiying) providers behind
//! one adapter interface per capability (routes under `/api/v1/integrations`).
//!
//! - [`client`]: each provider's protocol as pure functions, proven by the vectors;
//! - [`providers`]: the adapters (one trait per capability) that send them;
//! - [`manager`]: priorities, circuit breakers, failover, health; [`config`]:
//!   integrations.yaml, reloaded live;
//! - [`service`]: payments, the SMS outbox, storage, captcha; [`api`]: the handlers;
//! - [`alerts`], [`metrics`]; [`dry_run`]: `shopops integrations sign --vector FILE`.

pub mod alerts;
pub mod api;
pub mod client;
pub mod config;
pub mod dry_run;
pub mod entities;
pub mod error;
pub mod manager;
pub mod metrics;
pub mod providers;
pub mod service;

use std::sync::Arc;

use actix_web::web;
use utoipa::OpenApi;

/// Routes, to be mounted at `/api/v1/integrations`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, put, resource};
    cfg.service(
        resource("/payments")
            .route(post().to(api::payments::create_payment))
            .route(get().to(api::payments::list_payments)),
    )
    .service(resource("/payments/{id}").route(get().to(api::payments::get_payment)))
    .service(resource("/payments/{id}/close").route(post().to(api::payments::close_payment)))
    .service(resource("/payments/{id}/refunds").route(post().to(api::payments::refund_payment)))
    .service(resource("/callbacks/wechatpay").route(post().to(api::callbacks::wechatpay)))
    .service(resource("/callbacks/alipay").route(post().to(api::callbacks::alipay)))
    .service(resource("/sms").route(post().to(api::sms::send_sms)))
    .service(resource("/sms/{message_id}").route(get().to(api::sms::get_sms)))
    .service(
        resource("/storage/objects/{key:.*}")
            .route(put().to(api::storage::put_object))
            .route(get().to(api::storage::get_object))
            .route(delete().to(api::storage::delete_object)),
    )
    .service(resource("/storage/presign").route(post().to(api::storage::presign)))
    .service(
        resource("/storage/signed/{key:.*}")
            .route(get().to(api::storage::signed))
            .route(put().to(api::storage::signed)),
    )
    .service(resource("/captcha/recognize").route(post().to(api::captcha::recognize)))
    .service(resource("/captcha/report").route(post().to(api::captcha::report)))
    .service(resource("/captcha/balance").route(get().to(api::captcha::balance)))
    .service(resource("/health").route(get().to(api::providers::health)))
    .service(resource("/providers").route(get().to(api::providers::list)))
    .service(resource("/providers/{capability}/{name}").route(put().to(api::providers::update)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/integrations`).
#[derive(OpenApi)]
#[openapi(
    paths(
        api::payments::create_payment, api::payments::list_payments, api::payments::get_payment,
        api::payments::close_payment, api::payments::refund_payment,
        api::callbacks::wechatpay, api::callbacks::alipay,
        api::sms::send_sms, api::sms::get_sms,
        api::storage::put_object, api::storage::get_object, api::storage::delete_object,
        api::storage::presign, api::storage::signed,
        api::captcha::recognize, api::captcha::report, api::captcha::balance,
        api::providers::health, api::providers::list, api::providers::update,
    ),
    tags((name = "integrations", description = "Payment, SMS, storage and captcha providers with failover"))
)]
pub struct ApiDoc;

/// Builds the module's state: the URL-signing key (made once, kept in the database),
/// the manager over the configured providers, and its alert rules.
pub async fn start(kernel: &shopops_kernel::Kernel) -> Result<Arc<api::State>, String> {
    let key = shopops_kernel::db::get_or_init_setting(
        &kernel.db,
        "integrations_url_key",
        &shopops_kernel::auth::tokens::random_token(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let public_base_url = std::env::var("INTEGRATIONS_PUBLIC_BASE_URL").unwrap_or_default();
    let manager = manager::Manager::start(kernel, key.as_bytes().to_vec(), public_base_url).await?;
    kernel
        .alerting
        .add_source(Arc::new(alerts::ProviderAlerts::new(manager.clone())));
    Ok(Arc::new(api::State {
        manager,
        url_key: key.into_bytes(),
    }))
}

pub mod jobs {
    //! The module's background jobs.

    use std::sync::Arc;
    use std::time::Duration;

    use shopops_kernel::Kernel;

    use crate::api::State;

    /// The SMS outbox: every 5 s, the messages that are due.
    pub async fn sms_outbox(kernel: Kernel, state: Arc<State>) {
        shopops_kernel::jobs::every(
            kernel,
            "integrations_sms_outbox",
            Duration::from_secs(5),
            move |k| {
                let state = state.clone();
                async move {
                    crate::service::sms::deliver_due(&k, &state.manager)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.message)
                }
            },
        )
        .await
    }

    /// Delivery reports of recent sends (`INTEGRATIONS_SMS_REPORT_SECS`, at most 30 s
    /// between rounds).
    pub async fn sms_reports(kernel: Kernel, state: Arc<State>) {
        let every = crate::service::sms_reports::report_secs().min(30) as u64;
        shopops_kernel::jobs::every(
            kernel,
            "integrations_sms_reports",
            Duration::from_secs(every),
            move |k| {
                let state = state.clone();
                async move {
                    crate::service::sms_reports::check_due(&k, &state.manager)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.message)
                }
            },
        )
        .await
    }

    /// Captcha answers past their reporting window, hourly.
    pub async fn captcha_purge(kernel: Kernel) {
        shopops_kernel::jobs::every(
            kernel,
            "integrations_captcha_purge",
            Duration::from_secs(3600),
            |k| async move {
                crate::service::captcha::purge_expired(&k)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.message)
            },
        )
        .await
    }

    /// integrations.yaml and the API's overrides, polled (`INTEGRATIONS_RELOAD_SECS`).
    pub async fn config_reload(kernel: Kernel, state: Arc<State>) {
        shopops_kernel::jobs::every(
            kernel,
            "integrations_config_reload",
            crate::config::reload_every(),
            move |k| {
                let state = state.clone();
                async move { state.manager.reload_if_changed(&k).await.map(|_| ()) }
            },
        )
        .await
    }
}
