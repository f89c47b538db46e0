//! `/callbacks/{wechatpay,alipay}`: the providers' payment and refund notifications.
//! No bearer token: the provider's signature authenticates. The answer is what the
//! provider expects (WeChat Pay: 200 empty, or `{"code":"FAIL"}`; Alipay: `success` or
//! `fail`), not the error envelope: anything else makes the provider resend.

use actix_web::{web, HttpRequest, HttpResponse};
use shopops_kernel::http::{KeepBody, RequestContext};
use shopops_kernel::{AppResult, Kernel};

use super::State;
use crate::service::callbacks as svc;

fn headers(req: &HttpRequest) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

async fn handle(
    kernel: &Kernel,
    state: &State,
    ctx: &RequestContext,
    kind: &str,
    req: &HttpRequest,
    body: &[u8],
) -> AppResult<HttpResponse> {
    let reply = svc::callback(kernel, &state.manager, ctx, kind, &headers(req), body).await?;
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(status)
        .content_type(reply.content_type)
        .body(reply.body);
    // The provider reads this body (`{"code":"FAIL"}`), not our error envelope.
    response.extensions_mut().insert(KeepBody);
    Ok(response)
}

/// WeChat Pay notifications (`TRANSACTION.SUCCESS`, `REFUND.SUCCESS` …): signature over
/// the raw body verified, resource decrypted with the APIv3 key, stored once per
/// transaction and state, applied to the payment.
#[utoipa::path(post, path = "/callbacks/wechatpay", tag = "integrations", operation_id = "wechatpay_notification",
    request_body(content = String, content_type = "application/json", description = "WeChat Pay's signed notification, read as bytes"),
    responses((status = 200, description = "acknowledged (also a replay); empty body"), (status = 500, description = "signature refused: `{\"code\":\"FAIL\",\"message\":\"失败\"}`, as the official SDK answers")))]
pub async fn wechatpay(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    handle(&kernel, &state, &ctx, "wechatpay", &req, &body).await
}

/// Alipay asynchronous notifications: form-decoded once, RSA2-verified, stored once per
/// trade and state, applied to the payment; answered `success` (or `fail`).
#[utoipa::path(post, path = "/callbacks/alipay", tag = "integrations", operation_id = "alipay_notification",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Alipay's signed notification"),
    responses((status = 200, content_type = "text/plain", body = String, description = "`success`, or `fail` when refused")))]
pub async fn alipay(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    handle(&kernel, &state, &ctx, "alipay", &req, &body).await
}
