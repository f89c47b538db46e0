//! `GET /api/v1/ops/outside-targets`: every outside target's circuit, success rate and
//! latency.

use actix_web::{web, HttpResponse};

use super::TargetStatus;
use crate::auth::Principal;
use crate::context::Kernel;
use crate::error::AppResult;
use crate::permissions;

/// State of each outside target (permission `ops:read`).
#[utoipa::path(
    get,
    path = "/ops/outside-targets",
    tag = "ops",
    responses(
        (status = 200, body = Vec<TargetStatus>),
        (status = 401, body = crate::error::ErrorEnvelope),
        (status = 403, body = crate::error::ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_outside_targets(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::OPS_READ)?;
    Ok(HttpResponse::Ok().json(kernel.outside.statuses()))
}
