//! `/health` and `/providers`: each provider's state, configuration (secrets masked),
//! and the operational settings superadmins change without a restart.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};

use super::State;
use crate::permissions;
use crate::service::providers::{self as svc, Health, ProviderChange, ProviderView};

/// Every provider's circuit, success rate and average latency over its recent calls
/// (permission `integrations:read`).
#[utoipa::path(get, path = "/health", tag = "integrations", operation_id = "provider_health", responses((status = 200, body = Health)), security(("bearer" = [])))]
pub async fn health(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    Ok(HttpResponse::Ok().json(svc::health(&state.manager)))
}

/// The providers in force (permission `integrations:manage`).
#[utoipa::path(get, path = "/providers", tag = "integrations", operation_id = "list_providers", responses((status = 200, body = Vec<ProviderView>)), security(("bearer" = [])))]
pub async fn list(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    Ok(HttpResponse::Ok().json(svc::views(&state.manager)))
}

/// Change a provider's operational settings live, on every replica (permission
/// `integrations:manage`). Credentials stay in integrations.yaml and the environment.
#[utoipa::path(put, path = "/providers/{capability}/{name}", tag = "integrations", operation_id = "update_provider",
    params(("capability" = String, Path), ("name" = String, Path)), request_body = ProviderChange,
    responses((status = 200, body = ProviderView), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn update(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
    body: web::Json<ProviderChange>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let (capability, name) = path.into_inner();
    let change = body.into_inner();
    let prepared = svc::prepare(&kernel, &state.manager, &capability, &name, &change).await?;
    let cap = prepared.capability;
    let (actor, tenant) = (principal.actor(), principal.tenant_id);
    idempotency::execute(&kernel, None, async |txn| {
        svc::save(txn, &ctx, &actor, tenant, &name, prepared, &change).await?;
        WriteOutcome::new(StatusCode::OK, &json!({}))
    })
    .await?;
    let view = svc::applied(&kernel, &state.manager, cap, &name).await?;
    Ok(HttpResponse::Ok().json(view))
}
