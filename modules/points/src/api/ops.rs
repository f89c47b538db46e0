//! Ledger writes: earn, spend, adjust, freeze, unfreeze, reverse, batch-earn. Each
//! checks its request against the tenant's settings, then runs the operation in one
//! transaction under its idempotency key.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{rendered, ErrorEnvelope, Lang};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::{idempotency as idem, operator, prepare_write};
use crate::permissions;
use crate::service::domain::Category;
use crate::service::ledger::{self, Adjust, BatchMode, Earn, EntryResult, Movement};
use crate::service::validate::{Bounds, Check};
use crate::store::Hold;

/// Most operations in one batch.
const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarnRequest {
    /// The tenant's own customer id: 1 to 64 characters, no control characters, no `/`.
    #[schema(min_length = 1, max_length = 64)]
    pub member_id: String,
    /// Within the tenant's `min_per_operation`..=`max_per_operation` (settings; default
    /// 1..=10000).
    #[schema(minimum = 1, maximum = 1000000000)]
    pub points_amount: i64,
    #[schema(value_type = Category)]
    pub category: String,
    /// At most 500 characters, no control characters but newline and tab; markup and
    /// formula prefixes are removed before it is stored.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// When these points expire (in the future); none = never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Idempotency key (or send `Idempotency-Key`; both must agree), 1 to 255 characters.
    #[schema(max_length = 255)]
    pub operation_id: Option<String>,
}

/// A spend, a freeze or an unfreeze.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendRequest {
    /// 1 to 64 characters, no control characters, no `/`.
    #[schema(min_length = 1, max_length = 64)]
    pub member_id: String,
    /// Within the tenant's `min_per_operation`..=`max_per_operation`.
    #[schema(minimum = 1, maximum = 1000000000)]
    pub points_amount: i64,
    /// At most 500 characters, no control characters but newline and tab.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    #[schema(max_length = 255)]
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustRequest {
    /// 1 to 64 characters, no control characters, no `/`.
    #[schema(min_length = 1, max_length = 64)]
    pub member_id: String,
    /// Signed, not 0: positive adds, negative removes; its size at most the tenant's
    /// `max_per_operation`.
    #[schema(minimum = -1000000000, maximum = 1000000000)]
    pub points_delta: i64,
    /// Required; at most 500 characters, no control characters but newline and tab.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    #[schema(max_length = 255)]
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// At most 500 characters, no control characters but newline and tab; none =
    /// "reversal of entry {id}".
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    #[schema(max_length = 255)]
    pub operation_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEarnItem {
    #[schema(min_length = 1, max_length = 64)]
    pub member_id: String,
    #[schema(minimum = 1, maximum = 1000000000)]
    pub points_amount: i64,
    #[schema(value_type = Category)]
    pub category: String,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEarnRequest {
    /// 1 to 1000 operations, all checked before any is applied.
    #[schema(min_items = 1, max_items = 1000)]
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
    /// The item's error (`code`, `message`, `details`, in the caller's language) when
    /// it failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchEarnResult {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BatchItemResult>,
}

/// The fields of one earn (a request or a batch item), parsed.
fn earn_of(
    check: &mut Check,
    member_id: &str,
    points: i64,
    category: &str,
    reason: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) -> Option<Earn> {
    let member = check.member_id("member_id", member_id);
    let points = check.points("points_amount", points);
    let category = check.category("category", category);
    let expires_at = check.expires_at("expires_at", expires_at);
    let reason = check.reason("reason", reason);
    Some(Earn {
        member: member?,
        points: points?,
        category: category?,
        reason: reason?,
        expires_at: expires_at?,
    })
}

/// The fields of a spend, freeze or unfreeze, parsed.
fn movement_of(check: &mut Check, body: &SpendRequest) -> Option<Movement> {
    let member = check.member_id("member_id", &body.member_id);
    let points = check.points("points_amount", body.points_amount);
    let reason = check.reason("reason", body.reason.as_deref());
    Some(Movement {
        member: member?,
        points: points?,
        reason: reason?,
    })
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
    let settings = prepare_write(&kernel, &principal, &permissions::EARN).await?;
    let body = body.into_inner();
    let mut check = Check::operation(settings.bounds());
    let parsed = earn_of(
        &mut check,
        &body.member_id,
        body.points_amount,
        &body.category,
        body.reason.as_deref(),
        body.expires_at,
    );
    let e = check.finish(parsed)?;
    let key = idem(
        &req,
        &principal,
        "earn",
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let entry = ledger::earn(&kernel, txn, &op, &e).await?;
        WriteOutcome::new(StatusCode::CREATED, &entry)
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
    let settings = prepare_write(&kernel, &principal, &permissions::SPEND).await?;
    let body = body.into_inner();
    let mut check = Check::operation(settings.bounds());
    let parsed = movement_of(&mut check, &body);
    let s = check.finish(parsed)?;
    let key = idem(
        &req,
        &principal,
        "spend",
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let entry = ledger::spend(&kernel, txn, &op, &s).await?;
        WriteOutcome::new(StatusCode::CREATED, &entry)
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
    let settings = prepare_write(&kernel, &principal, &permissions::ADJUST).await?;
    let body = body.into_inner();
    let mut check = Check::operation(settings.bounds());
    let member = check.member_id("member_id", &body.member_id);
    let adjustment = check.adjustment("points_delta", body.points_delta);
    let reason = check.required_reason("reason", &body.reason);
    let a = check.finish((|| {
        Some(Adjust {
            member: member?,
            adjustment: adjustment?,
            reason: reason?,
        })
    })())?;
    let key = idem(
        &req,
        &principal,
        "adjust",
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let entry = ledger::adjust(&kernel, txn, &op, settings.overdraft(), &a).await?;
        WriteOutcome::new(StatusCode::CREATED, &entry)
    })
    .await
}

async fn move_frozen(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: SpendRequest,
    hold: Hold,
) -> AppResult<HttpResponse> {
    let settings = prepare_write(&kernel, &principal, &permissions::ADJUST).await?;
    let mut check = Check::operation(settings.bounds());
    let parsed = movement_of(&mut check, &body);
    let m = check.finish(parsed)?;
    let operation = match hold {
        Hold::Freeze => "freeze",
        Hold::Unfreeze => "unfreeze",
    };
    let key = idem(
        &req,
        &principal,
        operation,
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let entry = ledger::hold(&kernel, txn, &op, hold, &m).await?;
        WriteOutcome::new(StatusCode::CREATED, &entry)
    })
    .await
}

/// Freeze available points, e.g. during a return window (permission `points:adjust`).
#[utoipa::path(post, path = "/freeze", tag = "points", request_body = SpendRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EntryResult), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn freeze(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<SpendRequest>,
) -> AppResult<HttpResponse> {
    move_frozen(kernel, principal, ctx, req, body.into_inner(), Hold::Freeze).await
}

/// Release frozen points back to available (permission `points:adjust`).
#[utoipa::path(post, path = "/unfreeze", tag = "points", request_body = SpendRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EntryResult), (status = 409, description = "INSUFFICIENT_FROZEN_POINTS", body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn unfreeze(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<SpendRequest>,
) -> AppResult<HttpResponse> {
    move_frozen(
        kernel,
        principal,
        ctx,
        req,
        body.into_inner(),
        Hold::Unfreeze,
    )
    .await
}

/// Reverse an earn, spend or adjust entry, once (permission `points:adjust`).
#[utoipa::path(post, path = "/entries/{id}/reverse", tag = "points", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = ReverseRequest,
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
    let settings = prepare_write(&kernel, &principal, &permissions::ADJUST).await?;
    let id = id.into_inner();
    let body = body.into_inner();
    let mut check = Check::operation(settings.bounds());
    let parsed = check.reason("reason", body.reason.as_deref());
    let reason = check.finish(parsed)?;
    let operation = format!("reverse:{id}");
    let key = idem(
        &req,
        &principal,
        &operation,
        body.operation_id.as_deref(),
        &body,
    )?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let entry = ledger::reverse(&kernel, txn, &op, settings.overdraft(), id, &reason).await?;
        WriteOutcome::new(StatusCode::CREATED, &entry)
    })
    .await
}

/// Earn for up to 1000 members in one call (permission `points:earn`); per-item
/// results, or all-or-nothing with `atomic`. An item's error is in the language
/// `Accept-Language` asks for.
#[utoipa::path(post, path = "/batch-earn", tag = "points", request_body = BatchEarnRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = BatchEarnResult), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn batch_earn(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    lang: Lang,
    body: web::Json<BatchEarnRequest>,
) -> AppResult<HttpResponse> {
    let settings = prepare_write(&kernel, &principal, &permissions::EARN).await?;
    let body = body.into_inner();
    let earns = batch_of(&body, settings.bounds())?;
    let mode = if body.atomic {
        BatchMode::AllOrNothing
    } else {
        BatchMode::EachOnItsOwn
    };
    let key = idem(&req, &principal, "batch-earn", None, &body)?;
    let op = operator(&ctx, &principal, key.as_ref());
    idempotency::execute(&kernel, key, async |txn| {
        let outcomes = ledger::earn_batch(&kernel, txn, &op, &earns, mode).await?;
        let results: Vec<BatchItemResult> = outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| item_result(index, outcome, lang))
            .collect();
        let succeeded = results.iter().filter(|r| r.success).count();
        let failed = results.len() - succeeded;
        WriteOutcome::new(
            StatusCode::OK,
            &BatchEarnResult {
                succeeded,
                failed,
                results,
            },
        )
    })
    .await
}

/// Every item of a batch, parsed; an invalid item is reported (all of them, by index),
/// never half-applied.
fn batch_of(body: &BatchEarnRequest, bounds: Bounds) -> AppResult<Vec<Earn>> {
    let total = body.operations.len();
    if !(1..=MAX_BATCH).contains(&total) {
        let mut check = Check::fields();
        check.add(
            "operations",
            tr!(
                "请提供 1 到 {MAX_BATCH} 条操作",
                "give 1 to {MAX_BATCH} operations"
            ),
        );
        return Err(check.into_error());
    }
    let mut earns = Vec::with_capacity(total);
    let mut invalid = Vec::new();
    for (index, item) in body.operations.iter().enumerate() {
        let mut check = Check::operation(bounds);
        let parsed = earn_of(
            &mut check,
            &item.member_id,
            item.points_amount,
            &item.category,
            item.reason.as_deref(),
            item.expires_at,
        );
        match check.finish(parsed) {
            Ok(e) => earns.push(e),
            Err(e) => {
                invalid.push(json!({ "index": index, "field_errors": e.details["field_errors"] }))
            }
        }
    }
    if !invalid.is_empty() {
        let mut check = Check::fields();
        let bad = invalid.len();
        check.add(
            "operations",
            tr!(
                "{total} 条操作中有 {bad} 条无效",
                "{bad} of {total} operations are invalid"
            ),
        );
        let mut err = check.into_error();
        err.details["invalid_operations"] = json!(invalid);
        err.details["valid_categories"] = json!(Category::names());
        return Err(err);
    }
    Ok(earns)
}

/// One item of a batch's answer. Its error sits inside a 200 body, which the envelope
/// renderer does not localise, so it is rendered here.
fn item_result(index: usize, outcome: AppResult<EntryResult>, lang: Lang) -> BatchItemResult {
    match outcome {
        Ok(entry) => BatchItemResult {
            index,
            success: true,
            entry: Some(entry),
            error: None,
        },
        Err(err) => BatchItemResult {
            index,
            success: false,
            entry: None,
            error: Some(item_error(&err, lang)),
        },
    }
}

fn item_error(err: &AppError, lang: Lang) -> Value {
    let details = rendered(err, lang);
    let message = shopops_kernel::error::catalogue::fill(err.message.get(lang), &details);
    json!({ "code": err.code, "message": message, "details": details })
}
