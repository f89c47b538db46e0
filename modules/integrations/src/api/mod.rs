//! `/api/v1/integrations`: HTTP handlers only — extract, authorise, call the service,
//! map the answer.

pub mod callbacks;
pub mod captcha;
pub mod payments;
pub mod providers;
pub mod sms;
pub mod storage;

use std::sync::Arc;

use actix_web::web;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::manager::Manager;

/// `?refresh=true` on a read of something a provider holds.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Ask the provider first (and record what changed).
    #[serde(default)]
    pub refresh: bool,
}

/// What the handlers share: the manager, and the key that signs local-store URLs.
pub struct State {
    pub manager: Arc<Manager>,
    pub url_key: Vec<u8>,
}

/// The routes, inside the module's scope (`/api/v1/integrations`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, put, resource};
    cfg.service(
        resource("/payments")
            .route(post().to(payments::create_payment))
            .route(get().to(payments::list_payments)),
    )
    .service(resource("/payments/{id}").route(get().to(payments::get_payment)))
    .service(resource("/payments/{id}/close").route(post().to(payments::close_payment)))
    .service(resource("/payments/{id}/refunds").route(post().to(payments::refund_payment)))
    .service(resource("/callbacks/wechatpay").route(post().to(callbacks::wechatpay)))
    .service(resource("/callbacks/alipay").route(post().to(callbacks::alipay)))
    .service(resource("/sms").route(post().to(sms::send_sms)))
    .service(resource("/sms/{message_id}").route(get().to(sms::get_sms)))
    .service(
        resource("/storage/objects/{key:.*}")
            .route(put().to(storage::put_object))
            .route(get().to(storage::get_object))
            .route(delete().to(storage::delete_object)),
    )
    .service(resource("/storage/presign").route(post().to(storage::presign)))
    .service(
        resource("/storage/signed/{key:.*}")
            .route(get().to(storage::get_signed))
            .route(put().to(storage::put_signed)),
    )
    .service(resource("/captcha/recognize").route(post().to(captcha::recognize)))
    .service(resource("/captcha/report").route(post().to(captcha::report)))
    .service(resource("/captcha/balance").route(get().to(captcha::balance)))
    .service(resource("/health").route(get().to(providers::health)))
    .service(resource("/providers").route(get().to(providers::list)))
    .service(resource("/providers/{capability}/{name}").route(put().to(providers::update)));
}

/// The module's part of the OpenAPI document (paths relative to `/api/v1/integrations`).
#[derive(OpenApi)]
#[openapi(
    paths(
        payments::create_payment, payments::list_payments, payments::get_payment,
        payments::close_payment, payments::refund_payment,
        callbacks::wechatpay, callbacks::alipay,
        sms::send_sms, sms::get_sms,
        storage::put_object, storage::get_object, storage::delete_object,
        storage::presign, storage::get_signed, storage::put_signed,
        captcha::recognize, captcha::report, captcha::balance,
        providers::health, providers::list, providers::update,
    ),
    tags((name = "integrations", description = "Payment, SMS, storage and captcha providers with failover"))
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every schema the document names is in it (the states' enums included).
    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let text = doc.to_string();
        let mut refs: Vec<&str> = text
            .split("\"$ref\":\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        refs.sort_unstable();
        refs.dedup();
        assert!(
            refs.contains(&"#/components/schemas/PaymentStatus"),
            "{refs:?}"
        );
        for r in refs {
            let Some(name) = r.strip_prefix("#/components/schemas/") else {
                continue;
            };
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} is not in the document"
            );
        }
    }
}
