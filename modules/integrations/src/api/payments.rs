//! `/payments`: create, list, read (and refresh from the provider), close, refund.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::IntoParams;

use super::{ReadQuery, State};
use crate::permissions;
use crate::service::payments::{self as svc, NewPayment, PaymentView};
use crate::service::refunds::{self, NewRefund, RefundView};

/// Create a payment (permission `integrations:pay`): the highest-priority provider
/// offering the channel that is up takes it; when one is down the next is tried, but
/// never after an ambiguous answer without asking that provider first. Send an
/// `Idempotency-Key`: a retry then reaches the same order at the provider.
#[utoipa::path(post, path = "/payments", tag = "integrations", request_body = NewPayment,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PaymentView), (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope, description = "PAYMENT_SERVICE_UNAVAILABLE or PAYMENT_OUTCOME_UNKNOWN")),
    security(("bearer" = [])))]
pub async fn create_payment(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<NewPayment>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::PAY)?;
    let body = body.into_inner();
    svc::validate(&body)?;
    let idem =
        IdempotencyRequest::from_request(&req, &principal, "integrations.payment.create", &body)?;
    let tenant = principal.tenant_id;
    let order_no = body
        .out_trade_no
        .clone()
        .unwrap_or_else(|| svc::order_number(idem.as_ref().map(|i| i.key()), tenant));
    let (kernel_ref, manager) = (kernel.get_ref(), &state.manager);
    idempotency::execute_outside(
        kernel_ref,
        idem,
        async || svc::start(kernel_ref, manager, tenant, &body, order_no).await,
        async |txn, (row, provider, started)| {
            let view =
                svc::record_created(txn, &ctx, &principal.actor(), row, provider, started).await?;
            WriteOutcome::new(StatusCode::CREATED, &view)
        },
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// Only payments with this status (`creating`, `pending`, `paid`, `closed`,
    /// `partially_refunded`, `refunded`, `failed`, `unknown`).
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// The tenant's payments, newest first (permission `integrations:read`).
#[utoipa::path(get, path = "/payments", tag = "integrations", params(PaymentQuery),
    responses((status = 200, body = Page<PaymentView>)), security(("bearer" = [])))]
pub async fn list_payments(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<PaymentQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .resolve()?;
    let found = svc::list(&kernel, principal.tenant_id, q.status.as_deref(), page).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// One payment (permission `integrations:read`); `?refresh=true` asks its provider.
#[utoipa::path(get, path = "/payments/{id}", tag = "integrations", params(("id" = i64, Path), ReadQuery),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn get_payment(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    q: web::Query<ReadQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let mut p = svc::find(&kernel, principal.tenant_id, id.into_inner()).await?;
    if q.refresh && !p.provider.is_empty() {
        p = svc::refresh(&kernel, &state.manager, &ctx, &principal.actor(), p).await?;
    }
    Ok(HttpResponse::Ok().json(svc::view(p)))
}

/// Close a pending payment at its provider (permission `integrations:pay`).
#[utoipa::path(post, path = "/payments/{id}/close", tag = "integrations", params(("id" = i64, Path)),
    responses((status = 200, body = PaymentView), (status = 409, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn close_payment(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::PAY)?;
    let p = svc::find(&kernel, principal.tenant_id, id.into_inner()).await?;
    let closed = svc::close(&kernel, &state.manager, &ctx, &principal.actor(), p).await?;
    Ok(HttpResponse::Ok().json(svc::view(closed)))
}

/// Refund part or all of a paid payment at its provider (permission
/// `integrations:refund`); idempotent on `out_refund_no` (and on `Idempotency-Key`).
#[utoipa::path(post, path = "/payments/{id}/refunds", tag = "integrations", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NewRefund,
    responses((status = 201, body = RefundView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn refund_payment(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<NewRefund>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::REFUND)?;
    let body = body.into_inner();
    let p = svc::find(&kernel, principal.tenant_id, id.into_inner()).await?;
    let idem = IdempotencyRequest::from_request(
        &req,
        &principal,
        &format!("integrations.refund:{}", p.id),
        &body,
    )?;
    let refund_no = body.out_refund_no.clone().unwrap_or_else(|| {
        refunds::refund_number(idem.as_ref().map(|i| i.key()), principal.tenant_id)
    });
    let (kernel_ref, manager) = (kernel.get_ref(), &state.manager);
    let payment = &p;
    idempotency::execute_outside(
        kernel_ref,
        idem,
        async || refunds::start(kernel_ref, manager, payment, &body, refund_no).await,
        async |txn, (row, refund_state)| {
            let view =
                refunds::record(txn, &ctx, &principal.actor(), payment, row, refund_state).await?;
            WriteOutcome::new(StatusCode::CREATED, &view)
        },
    )
    .await
}
