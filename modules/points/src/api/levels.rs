//! Levels: list (`/user-levels`), create, change, delete. A change drops the level
//! cache once it has committed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use super::operator;
use crate::permissions;
use crate::service::levels::{self, LevelChange, LevelView, NewLevel};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelRequest {
    /// 1 to 200 characters once trimmed, no control characters; unique per tenant.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Lifetime points from which a member holds the level (≥ 0, unique per tenant).
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub threshold: i64,
    /// A JSON object (what the level gives; not interpreted here).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub benefits: serde_json::Value,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelPatch {
    /// 1 to 200 characters once trimmed, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub threshold: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub benefits: Option<serde_json::Value>,
}

/// The tenant's levels by threshold (permission `points:read`). Cached.
#[utoipa::path(get, path = "/user-levels", tag = "points", responses((status = 200, body = Vec<LevelView>)), security(("bearer" = [])))]
pub async fn list_levels(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    Ok(HttpResponse::Ok().json(levels::all(&kernel, &kernel.db, principal.tenant_id).await?))
}

/// Create a level (permission `points:manage`).
#[utoipa::path(post, path = "/levels", tag = "points", request_body = LevelRequest,
    responses((status = 201, body = LevelView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn create_level(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    body: web::Json<LevelRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let body = body.into_inner();
    let new = NewLevel::parse(&body.name, body.threshold, body.benefits)?;
    let op = operator(&ctx, &principal, None);
    let response = idempotency::execute(&kernel, None, async |txn| {
        WriteOutcome::new(StatusCode::CREATED, &levels::create(txn, &op, new).await?)
    })
    .await?;
    levels::invalidate(&kernel, principal.tenant_id).await;
    Ok(response)
}

/// Change a level (permission `points:manage`); visible to the next request.
#[utoipa::path(patch, path = "/levels/{id}", tag = "points", params(("id" = i64, Path)), request_body = LevelPatch,
    responses((status = 200, body = LevelView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn update_level(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<LevelPatch>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let body = body.into_inner();
    let change = LevelChange::parse(body.name.as_deref(), body.threshold, body.benefits)?;
    let op = operator(&ctx, &principal, None);
    let id = id.into_inner();
    let response = idempotency::execute(&kernel, None, async |txn| {
        WriteOutcome::new(StatusCode::OK, &levels::update(txn, &op, id, change).await?)
    })
    .await?;
    levels::invalidate(&kernel, principal.tenant_id).await;
    Ok(response)
}

/// Delete a level (permission `points:manage`); members holding it keep no level
/// until their next promotion.
#[utoipa::path(delete, path = "/levels/{id}", tag = "points", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn delete_level(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let op = operator(&ctx, &principal, None);
    let id = id.into_inner();
    let response = idempotency::execute(&kernel, None, async |txn| {
        levels::delete(txn, &op, id).await?;
        Ok(WriteOutcome::no_content())
    })
    .await?;
    levels::invalidate(&kernel, principal.tenant_id).await;
    Ok(response)
}
