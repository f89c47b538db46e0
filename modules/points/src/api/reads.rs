//! Reads: profiles (with `?fields=`), ledger records, the integrity check, settings.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{ErrorEnvelope, FieldErrors};
use shopops_kernel::http::pagination::{Order, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use crate::entities::{entry, lot, member_vip_tag, profile, vip_tag};
use crate::levels::{self, LevelView};
use crate::settings::{self, Settings};
use crate::store::{self, Discrepancy};

/// Days ahead that count as "expiring soon".
const EXPIRING_SOON_DAYS: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    pub tag_id: i64,
    pub tag_type: String,
    pub tag_name: String,
    pub rank: i32,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiringSoon {
    pub points: i64,
    pub within_days: i64,
    pub earliest_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub member_id: String,
    pub total_points: i64,
    pub frozen_points: i64,
    pub lifetime_points: i64,
    pub current_level: Option<LevelView>,
    pub tags: Vec<TagView>,
    pub expiring_soon: ExpiringSoon,
    /// Masked (`a***@example.com`); stored encrypted.
    pub email: Option<String>,
    /// Masked (`138****5678`); stored encrypted.
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FieldsQuery {
    /// Comma-separated fields to return, e.g. `member_id,total_points,current_level`.
    pub fields: Option<String>,
}

/// Keeps only the requested fields of a JSON object (seed 001's field selection).
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
        return Err(AppError::bad_request("INVALID_QUERY", "unknown field in `fields`")
            .with_details(json!({ "unknown_fields": unknown, "valid_fields": map.keys().collect::<Vec<_>>() })));
    }
    Ok(Value::Object(
        map.into_iter()
            .filter(|(k, _)| wanted.contains(&k.as_str()))
            .collect(),
    ))
}

pub(crate) async fn find_profile(
    kernel: &Kernel,
    tenant: i64,
    member: &str,
) -> AppResult<profile::Model> {
    profile::Entity::find()
        .filter(profile::Column::TenantId.eq(tenant))
        .filter(profile::Column::MemberId.eq(member))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("member profile"))
}

pub(crate) async fn view(kernel: &Kernel, p: profile::Model) -> AppResult<ProfileView> {
    let now = Utc::now();
    let levels = levels::all(kernel, &kernel.db, p.tenant_id).await?;
    // Three queries whatever the member holds: tags with their definitions, soon-expiring lots.
    let tags = member_vip_tag::Entity::find()
        .filter(member_vip_tag::Column::ProfileId.eq(p.id))
        .find_also_related(vip_tag::Entity)
        .all(&kernel.db)
        .await?
        .into_iter()
        .filter(|(t, _)| t.expires_at.is_none_or(|e| e > now))
        .filter_map(|(t, def)| {
            def.map(|d| TagView {
                tag_id: d.id,
                tag_type: d.tag_type,
                tag_name: d.tag_name,
                rank: d.rank,
                expires_at: t.expires_at,
            })
        })
        .collect();
    let soon = lot::Entity::find()
        .filter(lot::Column::ProfileId.eq(p.id))
        .filter(lot::Column::RemainingPoints.gt(0))
        .filter(lot::Column::ExpiresAt.lte(now + chrono::Duration::days(EXPIRING_SOON_DAYS)))
        .order_by_asc(lot::Column::ExpiresAt)
        .all(&kernel.db)
        .await?;
    let reveal = |stored: &Option<String>| -> AppResult<Option<String>> {
        stored
            .as_deref()
            .map(|s| {
                kernel
                    .pii
                    .decrypt(s)
                    .map(|v| shopops_kernel::crypto::mask(&v))
                    .map_err(AppError::internal)
            })
            .transpose()
    };
    Ok(ProfileView {
        email: reveal(&p.email_enc)?,
        phone: reveal(&p.phone_enc)?,
        current_level: p
            .level_id
            .and_then(|id| levels.into_iter().find(|l| l.id == id)),
        member_id: p.member_id,
        total_points: p.total_points,
        frozen_points: p.frozen_points,
        lifetime_points: p.lifetime_points,
        tags,
        expiring_soon: ExpiringSoon {
            points: soon.iter().map(|l| l.remaining_points).sum(),
            within_days: EXPIRING_SOON_DAYS,
            earliest_expires_at: soon.first().and_then(|l| l.expires_at),
        },
    })
}

/// A member's balances, level, tags and soon-expiring points (permission `points:read`).
#[utoipa::path(get, path = "/profiles/{member_id}", tag = "points", params(("member_id" = String, Path), FieldsQuery),
    responses((status = 200, body = ProfileView), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_profile(
    kernel: web::Data<Kernel>,
    principal: Principal,
    member: web::Path<String>,
    q: web::Query<FieldsQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:read")?;
    let p = find_profile(&kernel, principal.tenant_id, &member).await?;
    let value = serde_json::to_value(view(&kernel, p).await?).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(select_fields(value, q.fields.as_deref())?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordFilter {
    /// earn, spend, adjust, expire, freeze, unfreeze, reversal
    pub entry_type: Option<String>,
    pub category: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub entry_id: i64,
    pub entry_type: String,
    pub points_delta: i64,
    pub frozen_delta: i64,
    pub balance_after: i64,
    pub category: String,
    pub reason: String,
    pub operator_name: String,
    pub request_id: String,
    pub idempotency_key: Option<String>,
    pub reverses_entry_id: Option<i64>,
    pub reversed_by_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<entry::Model> for RecordView {
    fn from(e: entry::Model) -> Self {
        Self {
            entry_id: e.id,
            entry_type: e.entry_type,
            points_delta: e.points_delta,
            frozen_delta: e.frozen_delta,
            balance_after: e.balance_after,
            category: e.category,
            reason: e.reason,
            operator_name: e.operator_name,
            request_id: e.request_id,
            idempotency_key: e.idempotency_key,
            reverses_entry_id: e.reverses_entry_id,
            reversed_by_entry_id: e.reversed_by_entry_id,
            created_at: e.created_at,
        }
    }
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents the page shape for OpenAPI only
pub struct RecordPage {
    data: Vec<RecordView>,
    next_cursor: Option<String>,
    has_more: bool,
}

/// A member's ledger, newest first (permission `points:read`).
#[utoipa::path(get, path = "/profiles/{member_id}/records", tag = "points", params(("member_id" = String, Path), RecordFilter),
    responses((status = 200, body = RecordPage), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_records(
    kernel: web::Data<Kernel>,
    principal: Principal,
    member: web::Path<String>,
    f: web::Query<RecordFilter>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:read")?;
    let f = f.into_inner();
    let page = PageQuery {
        limit: f.limit,
        cursor: f.cursor,
    }
    .resolve()?;
    let mut q = entry::Entity::find()
        .filter(entry::Column::TenantId.eq(principal.tenant_id))
        .filter(entry::Column::MemberId.eq(member.as_str()));
    if let Some(t) = f.entry_type {
        q = q.filter(entry::Column::EntryType.eq(t));
    }
    if let Some(c) = f.category {
        q = q.filter(entry::Column::Category.eq(c));
    }
    if let Some(from) = f.from {
        q = q.filter(entry::Column::CreatedAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(entry::Column::CreatedAt.lt(to));
    }
    let found = page
        .fetch(q, entry::Column::Id, Order::NewestFirst, &kernel.db, |e| {
            e.id
        })
        .await?;
    if found.data.is_empty() && page.after.is_none() {
        find_profile(&kernel, principal.tenant_id, &member).await?;
    }
    Ok(HttpResponse::Ok().json(found.map(RecordView::from)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrityReport {
    pub profiles_checked: i64,
    /// True when every balance equals its ledger and lots.
    pub consistent: bool,
    pub discrepancies: Vec<Discrepancy>,
}

pub async fn integrity(
    db: &sea_orm::DatabaseConnection,
    tenant: Option<i64>,
) -> AppResult<IntegrityReport> {
    let (checked, discrepancies) = store::discrepancies(db, tenant).await?;
    Ok(IntegrityReport {
        profiles_checked: checked,
        consistent: discrepancies.is_empty(),
        discrepancies,
    })
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
    principal.require(&kernel, "points:manage")?;
    Ok(HttpResponse::Ok().json(integrity(&kernel.db, Some(principal.tenant_id)).await?))
}

/// The tenant's points settings (permission `points:read`).
#[utoipa::path(get, path = "/settings", tag = "points", responses((status = 200, body = Settings)), security(("bearer" = [])))]
pub async fn get_settings(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:read")?;
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
    principal.require(&kernel, "points:manage")?;
    let s = body.into_inner();
    let mut errors = FieldErrors::new();
    if s.min_per_operation < 1 {
        errors.add("min_per_operation", "must be at least 1");
    }
    if s.max_per_operation < s.min_per_operation || s.max_per_operation > 1_000_000_000 {
        errors.add(
            "max_per_operation",
            "must be at least min_per_operation and at most 1000000000",
        );
    }
    errors.into_result()?;
    let tenant = principal.tenant_id;
    let response = idempotency::execute(&kernel, None, async |txn| {
        let row = crate::entities::settings::ActiveModel {
            tenant_id: Set(tenant),
            min_per_operation: Set(s.min_per_operation),
            max_per_operation: Set(s.max_per_operation),
            allow_overdraft: Set(s.allow_overdraft),
            updated_at: Set(Utc::now()),
        };
        crate::entities::settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(crate::entities::settings::Column::TenantId)
                    .update_columns([
                        crate::entities::settings::Column::MinPerOperation,
                        crate::entities::settings::Column::MaxPerOperation,
                        crate::entities::settings::Column::AllowOverdraft,
                        crate::entities::settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: tenant,
                action: "points.settings.update",
                target_type: "points_settings",
                target_id: tenant.to_string(),
                summary: json!(s),
            },
        )
        .await?;
        WriteOutcome::new(StatusCode::OK, &s)
    })
    .await?;
    settings::invalidate(&kernel, tenant).await;
    Ok(response)
}
