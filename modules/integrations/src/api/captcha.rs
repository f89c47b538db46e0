//! `/captcha`: recognise an image, report a wrong answer, the providers' points.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use super::State;
use crate::permissions;
use crate::providers::CaptchaAnswer;
use crate::service::captcha as svc;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecognizeRequest {
    /// The image, Base64 (no `data:` prefix), at most 1 MiB decoded.
    #[schema(min_length = 4, max_length = 1398104)]
    pub image_base64: String,
    /// The provider's captcha type (Chaojiying: 1902 four characters, 9004 clicks …):
    /// 1 to 8 digits.
    #[schema(min_length = 1, max_length = 8, pattern = "^[0-9]+$")]
    pub codetype: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Recognized {
    pub provider: String,
    #[serde(flatten)]
    pub answer: CaptchaAnswer,
}

/// Recognise a captcha image (permission `integrations:captcha`).
#[utoipa::path(post, path = "/captcha/recognize", tag = "integrations", operation_id = "recognize_captcha", request_body = RecognizeRequest,
    responses((status = 200, body = Recognized), (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn recognize(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<RecognizeRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::CAPTCHA)?;
    let image = svc::image(&body.image_base64, &body.codetype)?;
    let (provider, answer) = svc::recognize(
        &kernel,
        &state.manager,
        principal.tenant_id,
        &image,
        &body.codetype,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Recognized { provider, answer }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// As `recognize` returned it (`<provider>:<its id>`).
    #[schema(min_length = 3, max_length = 128)]
    pub pic_id: String,
}

/// Report a wrong answer so its points are refunded (permission
/// `integrations:captcha`; audited). Only the tenant the answer was given to may
/// report it, within 7 days and once; another tenant's `pic_id` is 404.
#[utoipa::path(post, path = "/captcha/report", tag = "integrations", operation_id = "report_captcha", request_body = ReportRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 204), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn report(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<ReportRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::CAPTCHA)?;
    let idem =
        IdempotencyRequest::from_request(&req, &principal, "integrations.captcha.report", &*body)?;
    let (manager, pic_id) = (&state.manager, &body.pic_id);
    idempotency::execute_outside(
        &kernel,
        idem,
        async || svc::report_error(&kernel, manager, principal.tenant_id, pic_id).await,
        async |txn, ()| {
            audit::record(
                txn,
                &ctx,
                &principal.actor(),
                Change {
                    tenant_id: principal.tenant_id,
                    action: "integrations.captcha.report",
                    target_type: "captcha",
                    target_id: pic_id.clone(),
                    summary: json!({}),
                },
            )
            .await?;
            Ok(WriteOutcome::no_content())
        },
    )
    .await
}

/// One captcha provider's remaining points, or why they could not be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaptchaBalance {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Each captcha provider's remaining points (permission `integrations:read`).
#[utoipa::path(get, path = "/captcha/balance", tag = "integrations", operation_id = "captcha_balance",
    responses((status = 200, body = Vec<CaptchaBalance>), (status = 503, description = "CAPTCHA_UNAVAILABLE: no captcha provider is configured", body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn balance(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let all = svc::balances(&state.manager).await?;
    let out: Vec<CaptchaBalance> = all
        .into_iter()
        .map(|(provider, r)| match r {
            Ok(points) => CaptchaBalance {
                provider,
                points: Some(points),
                error: None,
            },
            Err(e) => CaptchaBalance {
                provider,
                points: None,
                error: Some(e),
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
