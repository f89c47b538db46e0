//! Levels: list (`/user-levels`), create, change, delete. Changes invalidate the cache
//! after they commit.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{is_unique_violation, ErrorEnvelope, FieldErrors};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::level;
use crate::levels::{self, LevelView};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelRequest {
    pub name: String,
    /// Lifetime points from which a member holds the level (≥ 0, unique per tenant).
    pub threshold: i64,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub benefits: serde_json::Value,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelPatch {
    pub name: Option<String>,
    pub threshold: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub benefits: Option<serde_json::Value>,
}

fn check(
    name: Option<&str>,
    threshold: Option<i64>,
    benefits: Option<&serde_json::Value>,
) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 64) {
        errors.add("name", "must be 1 to 64 characters");
    }
    if threshold.is_some_and(|t| t < 0) {
        errors.add("threshold", "must be 0 or more");
    }
    if benefits.is_some_and(|b| !(b.is_object() || b.is_null())) {
        errors.add("benefits", "must be a JSON object");
    }
    errors.into_result()
}

fn taken(e: sea_orm::DbErr) -> AppError {
    if is_unique_violation(&e) {
        AppError::conflict(
            "LEVEL_CONFLICT",
            "a level with this name or threshold exists",
        )
        .with_details(json!({ "fields": ["name", "threshold"] }))
    } else {
        e.into()
    }
}

/// The tenant's levels by threshold (permission `points:read`). Cached.
#[utoipa::path(get, path = "/user-levels", tag = "points", responses((status = 200, body = Vec<LevelView>)), security(("bearer" = [])))]
pub async fn list_levels(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:read")?;
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
    principal.require(&kernel, "points:manage")?;
    let body = body.into_inner();
    check(Some(&body.name), Some(body.threshold), Some(&body.benefits))?;
    let tenant = principal.tenant_id;
    let response = idempotency::execute(&kernel, None, async |txn| {
        let now = Utc::now();
        let benefits = if body.benefits.is_null() {
            json!({})
        } else {
            body.benefits.clone()
        };
        let saved = level::ActiveModel {
            tenant_id: Set(tenant),
            name: Set(body.name.trim().to_string()),
            threshold: Set(body.threshold),
            benefits: Set(benefits),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await
        .map_err(taken)?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: tenant,
                action: "points.level.create",
                target_type: "points_level",
                target_id: saved.id.to_string(),
                summary: json!({ "name": saved.name, "threshold": saved.threshold }),
            },
        )
        .await?;
        WriteOutcome::new(StatusCode::CREATED, &LevelView::from(saved))
    })
    .await?;
    levels::invalidate(&kernel, tenant).await;
    Ok(response)
}

/// Change a level (permission `points:manage`); visible to the next request.
#[utoipa::path(patch, path = "/levels/{id}", tag = "points", params(("id" = i64, Path)), request_body = LevelPatch,
    responses((status = 200, body = LevelView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn update_level(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<LevelPatch>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:manage")?;
    let body = body.into_inner();
    check(body.name.as_deref(), body.threshold, body.benefits.as_ref())?;
    let (tenant, id) = (principal.tenant_id, id.into_inner());
    let response = idempotency::execute(&kernel, None, async |txn| {
        let current = level::Entity::find_by_id(id).filter(level::Column::TenantId.eq(tenant)).one(txn).await?.ok_or_else(|| AppError::not_found("level"))?;
        let mut active: level::ActiveModel = current.clone().into();
        if let Some(n) = &body.name {
            active.name = Set(n.trim().to_string());
        }
        if let Some(t) = body.threshold {
            active.threshold = Set(t);
        }
        if let Some(b) = &body.benefits {
            active.benefits = Set(b.clone());
        }
        active.updated_at = Set(Utc::now());
        let saved = active.update(txn).await.map_err(taken)?;
        audit::record(txn, &ctx, &principal.actor(), Change { tenant_id: tenant, action: "points.level.update", target_type: "points_level", target_id: id.to_string(), summary: json!({ "before": { "name": current.name, "threshold": current.threshold }, "after": { "name": saved.name, "threshold": saved.threshold } }) }).await?;
        WriteOutcome::new(StatusCode::OK, &LevelView::from(saved))
    })
    .await?;
    levels::invalidate(&kernel, tenant).await;
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
    principal.require(&kernel, "points:manage")?;
    let (tenant, id) = (principal.tenant_id, id.into_inner());
    let response = idempotency::execute(&kernel, None, async |txn| {
        let current = level::Entity::find_by_id(id)
            .filter(level::Column::TenantId.eq(tenant))
            .one(txn)
            .await?
            .ok_or_else(|| AppError::not_found("level"))?;
        crate::entities::profile::Entity::update_many()
            .col_expr(
                crate::entities::profile::Column::LevelId,
                sea_orm::sea_query::Expr::value(Option::<i64>::None),
            )
            .filter(crate::entities::profile::Column::TenantId.eq(tenant))
            .filter(crate::entities::profile::Column::LevelId.eq(id))
            .exec(txn)
            .await?;
        level::Entity::delete_by_id(id).exec(txn).await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: tenant,
                action: "points.level.delete",
                target_type: "points_level",
                target_id: id.to_string(),
                summary: json!({ "name": current.name }),
            },
        )
        .await?;
        Ok(WriteOutcome::no_content())
    })
    .await?;
    levels::invalidate(&kernel, tenant).await;
    Ok(response)
}
