//! `/sms`: send (stored first, sent through the providers, queued when none can) and
//! read a message's state.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};

use super::{ReadQuery, State};
use crate::permissions;
use crate::service::sms::{self as svc, NewSms, SmsView};
use crate::service::sms_reports;

/// Send an SMS from a template (permission `integrations:sms`). It is stored before
/// anything is sent; `status` says what happened: `sent`, `pending` (every provider is
/// down or at its limit: it is retried until sent), `rejected` (a provider refused it).
/// A number gets at most `sms_phone_throttle` messages a minute / a day (429
/// `SMS_THROTTLED`).
#[utoipa::path(post, path = "/sms", tag = "integrations", request_body = NewSms,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = SmsView), (status = 422, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn send_sms(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<NewSms>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SMS)?;
    let body = body.into_inner();
    let phone = svc::validate(&body)?;
    let idem = IdempotencyRequest::from_request(&req, &principal, "integrations.sms.send", &body)?;
    let tenant = principal.tenant_id;
    let message_id = svc::message_id(
        body.message_id.as_deref(),
        idem.as_ref().map(|i| i.key()),
        tenant,
    );
    let (k, manager) = (kernel.get_ref(), &state.manager);
    idempotency::execute_outside(
        k,
        idem,
        async || svc::submit(k, manager, tenant, &phone, &body, message_id).await,
        async |txn, row| {
            audit::record(
                txn,
                &ctx,
                &principal.actor(),
                Change {
                    tenant_id: tenant,
                    action: "integrations.sms.send",
                    target_type: "sms",
                    target_id: row.message_id.clone(),
                    summary: json!({ "template": row.template, "status": row.status.as_str(), "provider": row.provider }),
                },
            )
            .await?;
            WriteOutcome::new(StatusCode::ACCEPTED, &svc::view(k, row))
        },
    )
    .await
}

/// One message's state (permission `integrations:read`); `?refresh=true` asks the
/// provider that sent it for its delivery report.
#[utoipa::path(get, path = "/sms/{message_id}", tag = "integrations", params(("message_id" = String, Path), ReadQuery),
    responses((status = 200, body = SmsView), (status = 404, body = ErrorEnvelope),
        (status = 503, description = "PROVIDER_UNAVAILABLE (with `refresh`)", body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn get_sms(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<String>,
    q: web::Query<ReadQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let mut row = svc::find(&kernel, principal.tenant_id, &id).await?;
    if q.refresh {
        row = sms_reports::refresh_delivery(&kernel, &state.manager, row).await?;
    }
    Ok(HttpResponse::Ok().json(svc::view(&kernel, row)))
}
