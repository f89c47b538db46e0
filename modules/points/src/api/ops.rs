//! Writes: earn, spend, adjust, freeze, unfreeze, reverse, batch-earn.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::{idempotency as idem, operator};
use crate::service::{self, Earn, EntryResult};
use crate::settings;
use crate::validate::{clean_reason, Check};

/// Named rate-limit bucket of every points write (seed 001: 500 per hour per user).
const BUCKET: &str = "points_operations";

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarnRequest {
    pub member_id: String,
    pub points_amount: i64,
    /// login, license, referral, community, payment, manual, vip_upgrade, feature_unlock
    pub category: String,
    pub reason: Option<String>,
    /// When these points expire; none = never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Idempotency key (or send `Idempotency-Key`).
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendRequest {
    pub member_id: String,
    pub points_amount: i64,
    pub reason: Option<String>,
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustRequest {
    pub member_id: String,
    /// Signed: positive adds, negative removes.
    pub points_delta: i64,
    pub reason: String,
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    pub reason: Option<String>,
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEarnItem {
    pub member_id: String,
    pub points_amount: i64,
    pub category: String,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEarnRequest {
    /// 1 to 1000 operations.
    pub operations: Vec<BatchEarnItem>,
    /// All or nothing (default false: each item on its own).
    #[serde(default)]
    pub atomic: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    pub index: usize,
    pub success: bool,
    pub entry: Option<EntryResult>,
    /// The item's error (code, message, details) when it failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchEarnResult {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BatchItemResult>,
}

async fn begin(
    kernel: &Kernel,
    principal: &Principal,
    permission: &str,
) -> AppResult<settings::Settings> {
    principal.require(kernel, permission)?;
    kernel.rate_limits.bucket(BUCKET, principal).await?;
    settings::get(kernel, &kernel.db, principal.tenant_id).await
}

/// Earn points (permission `points:earn`).
#[utoipa::path(post, path = "/earn", tag = "points", request_body = EarnRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EntryResult), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn earn(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<EarnRequest>,
) -> AppResult<HttpResponse> {
    let settings = begin(&kernel, &principal, "points:earn").await?;
    let body = body.into_inner();
    let mut check = Check::new(settings.bounds());
    check
        .member_id("member_id", &body.member_id)
        .amount("points_amount", body.points_amount)
        .category("category", &body.category)
        .expires_at("expires_at", body.expires_at);
    check.into_result()?;
    let key = idem(
        &req,
        &principal,
        "earn",
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    let reason = clean_reason(body.reason.as_deref());
    idempotency::execute(&kernel, key, async |txn| {
        let e = Earn {
            member_id: &body.member_id,
            points: body.points_amount,
            category: &body.category,
            reason: &reason,
            expires_at: body.expires_at,
        };
        WriteOutcome::new(
            StatusCode::CREATED,
            &service::earn(&kernel, txn, &op, e).await?,
        )
    })
    .await
}

/// Spend points; never below zero (permission `points:spend`).
#[utoipa::path(post, path = "/spend", tag = "points", request_body = SpendRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EntryResult), (status = 409, description = "INSUFFICIENT_POINTS", body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn spend(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<SpendRequest>,
) -> AppResult<HttpResponse> {
    let settings = begin(&kernel, &principal, "points:spend").await?;
    let body = body.into_inner();
    let mut check = Check::new(settings.bounds());
    check
        .member_id("member_id", &body.member_id)
        .amount("points_amount", body.points_amount);
    check.into_result()?;
    let key = idem(
        &req,
        &principal,
        "spend",
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    let reason = clean_reason(body.reason.as_deref());
    idempotency::execute(&kernel, key, async |txn| {
        WriteOutcome::new(
            StatusCode::CREATED,
            &service::spend(
                &kernel,
                txn,
                &op,
                &body.member_id,
                body.points_amount,
                &reason,
            )
            .await?,
        )
    })
    .await
}

/// Adjust a balance by a signed amount (permission `points:adjust`). A negative adjust
/// cannot overdraw unless the tenant's settings allow overdraft.
#[utoipa::path(post, path = "/adjust", tag = "points", request_body = AdjustRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EntryResult), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn adjust(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<AdjustRequest>,
) -> AppResult<HttpResponse> {
    let settings = begin(&kernel, &principal, "points:adjust").await?;
    let body = body.into_inner();
    let mut check = Check::new(settings.bounds());
    check
        .member_id("member_id", &body.member_id)
        .delta("points_delta", body.points_delta)
        .reason_required("reason", &body.reason);
    check.into_result()?;
    let key = idem(
        &req,
        &principal,
        "adjust",
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    let reason = clean_reason(Some(&body.reason));
    idempotency::execute(&kernel, key, async |txn| {
        WriteOutcome::new(
            StatusCode::CREATED,
            &service::adjust(
                &kernel,
                txn,
                &op,
                &settings,
                &body.member_id,
                body.points_delta,
                &reason,
            )
            .await?,
        )
    })
    .await
}

async fn move_frozen(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: SpendRequest,
    freeze: bool,
) -> AppResult<HttpResponse> {
    let settings = begin(&kernel, &principal, "points:adjust").await?;
    let mut check = Check::new(settings.bounds());
    check
        .member_id("member_id", &body.member_id)
        .amount("points_amount", body.points_amount);
    check.into_result()?;
    let operation = if freeze { "freeze" } else { "unfreeze" };
    let key = idem(
        &req,
        &principal,
        operation,
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    let reason = clean_reason(body.reason.as_deref());
    let points = if freeze {
        body.points_amount
    } else {
        -body.points_amount
    };
    idempotency::execute(&kernel, key, async |txn| {
        WriteOutcome::new(
            StatusCode::CREATED,
            &service::freeze(&kernel, txn, &op, &body.member_id, points, &reason).await?,
        )
    })
    .await
}

/// Freeze available points, e.g. during a return window (permission `points:adjust`).
#[utoipa::path(post, path = "/freeze", tag = "points", request_body = SpendRequest,
    responses((status = 201, body = EntryResult), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn freeze(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<SpendRequest>,
) -> AppResult<HttpResponse> {
    move_frozen(kernel, principal, ctx, req, body.into_inner(), true).await
}

/// Release frozen points back to available (permission `points:adjust`).
#[utoipa::path(post, path = "/unfreeze", tag = "points", request_body = SpendRequest,
    responses((status = 201, body = EntryResult), (status = 409, description = "INSUFFICIENT_FROZEN_POINTS", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn unfreeze(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<SpendRequest>,
) -> AppResult<HttpResponse> {
    move_frozen(kernel, principal, ctx, req, body.into_inner(), false).await
}

/// Reverse an earn, spend or adjust entry, once (permission `points:adjust`).
#[utoipa::path(post, path = "/entries/{id}/reverse", tag = "points", params(("id" = i64, Path)), request_body = ReverseRequest,
    responses((status = 201, body = EntryResult), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn reverse(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<ReverseRequest>,
) -> AppResult<HttpResponse> {
    let settings = begin(&kernel, &principal, "points:adjust").await?;
    let id = id.into_inner();
    let body = body.into_inner();
    let key = idem(
        &req,
        &principal,
        &format!("reverse:{id}"),
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    let reason = clean_reason(body.reason.as_deref());
    idempotency::execute(&kernel, key, async |txn| {
        WriteOutcome::new(
            StatusCode::CREATED,
            &service::reverse(&kernel, txn, &op, &settings, id, &reason).await?,
        )
    })
    .await
}

/// Earn for up to 1000 members in one call (permission `points:earn`); per-item
/// results, or all-or-nothing with `atomic`.
#[utoipa::path(post, path = "/batch-earn", tag = "points", request_body = BatchEarnRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = BatchEarnResult), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn batch_earn(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<BatchEarnRequest>,
) -> AppResult<HttpResponse> {
    let settings = begin(&kernel, &principal, "points:earn").await?;
    let body = body.into_inner();
    if body.operations.is_empty() || body.operations.len() > 1000 {
        let mut errors = shopops_kernel::error::FieldErrors::new();
        errors.add("operations", "give 1 to 1000 operations");
        errors.into_result()?;
    }
    // Validate every item first: an invalid item is reported, never half-applied.
    let mut invalid = Vec::new();
    for (i, item) in body.operations.iter().enumerate() {
        let mut check = Check::new(settings.bounds());
        check
            .member_id("member_id", &item.member_id)
            .amount("points_amount", item.points_amount)
            .category("category", &item.category)
            .expires_at("expires_at", item.expires_at);
        if let Err(e) = check.into_result() {
            invalid.push(json!({ "index": i, "field_errors": e.details["field_errors"] }));
        }
    }
    if !invalid.is_empty() {
        let mut errors = shopops_kernel::error::FieldErrors::new();
        errors.add(
            "operations",
            format!(
                "{} of {} operations are invalid",
                invalid.len(),
                body.operations.len()
            ),
        );
        let mut err = AppError::validation(errors);
        err.details["invalid_operations"] = json!(invalid);
        err.details["valid_categories"] = json!(crate::error::CATEGORIES);
        return Err(err);
    }
    let key = idem(&req, &principal, "batch-earn", None, &body)?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let mut results = Vec::with_capacity(body.operations.len());
        for (index, item) in body.operations.iter().enumerate() {
            let reason = clean_reason(item.reason.as_deref());
            let e = Earn { member_id: &item.member_id, points: item.points_amount, category: &item.category, reason: &reason, expires_at: item.expires_at };
            // Each item in a savepoint: a failed item leaves no trace, the others stay.
            let savepoint = txn.begin().await?;
            match service::earn(&kernel, &savepoint, &op, e).await {
                Ok(entry) => {
                    savepoint.commit().await?;
                    results.push(BatchItemResult { index, success: true, entry: Some(entry), error: None });
                }
                Err(err) => {
                    savepoint.rollback().await?;
                    if body.atomic {
                        return Err(err);
                    }
                    results.push(BatchItemResult { index, success: false, entry: None, error: Some(json!({ "code": err.code, "message": err.message, "details": err.details })) });
                }
            }
        }
        let succeeded = results.iter().filter(|r| r.success).count();
        WriteOutcome::new(StatusCode::OK, &BatchEarnResult { succeeded, failed: results.len() - succeeded, results })
    })
    .await
}
