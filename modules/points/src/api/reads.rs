//! Profiles (with `?fields=`), ledger records, the integrity check, settings.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{Code, ErrorEnvelope};
use shopops_kernel::http::pagination::{Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::IntoParams;

use super::operator;
use crate::permissions;
use crate::service::domain::EntryType;
use crate::service::integrity::{self, IntegrityReport};
use crate::service::profiles::{self, ProfileView, RecordFilter, RecordView};
use crate::service::settings::{self, Settings};
use crate::store::Scope;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FieldsQuery {
    /// Comma-separated fields to return, e.g. `member_id,total_points,current_level`.
    pub fields: Option<String>,
}

/// Keeps only the requested fields of the answer; an unknown field is 400
/// `INVALID_QUERY` naming it and the valid ones.
fn select_fields(value: Value, fields: Option<&str>) -> AppResult<Value> {
    let Some(fields) = fields.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(value);
    };
    let Value::Object(map) = value else {
        return Ok(value);
    };
    let wanted: Vec<&str> = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|f| !map.contains_key(*f))
        .collect();
    if !unknown.is_empty() {
        return Err(Code::InvalidQuery
            .err()
            .with_message(tr!("`fields` 中有未知字段", "unknown field in `fields`"))
            .with_details(json!({ "unknown_fields": unknown, "valid_fields": map.keys().collect::<Vec<_>>() })));
    }
    Ok(Value::Object(
        map.into_iter()
            .filter(|(k, _)| wanted.contains(&k.as_str()))
            .collect(),
    ))
}

/// A member's balances, level, tags and soon-expiring points (permission `points:read`).
#[utoipa::path(get, path = "/profiles/{member_id}", tag = "points", params(("member_id" = String, Path), FieldsQuery),
    responses((status = 200, body = ProfileView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_profile(
    kernel: web::Data<Kernel>,
    principal: Principal,
    member: web::Path<String>,
    q: web::Query<FieldsQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let member = profiles::existing(&member)?;
    let view = profiles::show(&kernel, principal.tenant_id, &member).await?;
    let value = serde_json::to_value(view).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(select_fields(value, q.fields.as_deref())?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// Only entries of this type (another value matches no entry).
    #[param(value_type = Option<EntryType>)]
    pub entry_type: Option<String>,
    /// Only entries of this category: an earn category, or for entries without one
    /// their type (`spend`, `freeze`, `unfreeze`, `expire`); another value matches no
    /// entry.
    pub category: Option<String>,
    /// Entries created at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries created before this time.
    pub to: Option<DateTime<Utc>>,
    /// Items per page, 1..=100 (larger values are capped at 100). Default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A member's ledger, newest first (permission `points:read`).
#[utoipa::path(get, path = "/profiles/{member_id}/records", tag = "points", params(("member_id" = String, Path), RecordQuery),
    responses((status = 200, body = Page<RecordView>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_records(
    kernel: web::Data<Kernel>,
    principal: Principal,
    member: web::Path<String>,
    q: web::Query<RecordQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let q = q.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve()?;
    let member = profiles::existing(&member)?;
    let filter = RecordFilter {
        entry_type: q.entry_type,
        category: q.category,
        from: q.from,
        to: q.to,
    };
    let found = profiles::records(&kernel, principal.tenant_id, &member, filter, page).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Compare every profile's balances with its ledger and lots (permission
/// `points:manage`).
#[utoipa::path(get, path = "/integrity", tag = "points",
    responses((status = 200, body = IntegrityReport), (status = 403, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_integrity(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let report = integrity::check(&kernel.db, Scope::Tenant(principal.tenant_id)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The tenant's points settings (permission `points:read`).
#[utoipa::path(get, path = "/settings", tag = "points", responses((status = 200, body = Settings)), security(("bearer" = [])))]
pub async fn get_settings(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    Ok(HttpResponse::Ok().json(settings::get(&kernel, &kernel.db, principal.tenant_id).await?))
}

/// Change the tenant's points settings (permission `points:manage`).
#[utoipa::path(put, path = "/settings", tag = "points", request_body = Settings,
    responses((status = 200, body = Settings), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn put_settings(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    body: web::Json<Settings>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let s = body.into_inner();
    let op = operator(&ctx, &principal, None);
    let response = idempotency::execute(&kernel, None, async |txn| {
        WriteOutcome::new(StatusCode::OK, &settings::put(txn, &op, s).await?)
    })
    .await?;
    settings::invalidate(&kernel, principal.tenant_id).await;
    Ok(response)
}
