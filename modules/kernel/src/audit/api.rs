//! `GET /api/v1/audit-logs`: the caller's tenant chain, newest first.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::context::Kernel;
use crate::entities::audit_log;
use crate::error::AppResult;
use crate::http::pagination::{Order, Page, PageQuery};
use crate::permissions;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only records of this actor (user id).
    pub actor_id: Option<i64>,
    /// Only this action, e.g. `user.create`.
    pub action: Option<String>,
    /// Only this target type, e.g. `user`.
    pub target_type: Option<String>,
    /// Only this target id.
    pub target_id: Option<String>,
    /// Records at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Records before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    /// Position in the tenant's hash chain; null until the record is linked into it
    /// (within a second of its commit).
    pub seq: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What changed, with secrets removed.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Null until the record is linked into the chain.
    pub hash: Option<String>,
}

impl From<audit_log::Model> for AuditRecord {
    fn from(m: audit_log::Model) -> Self {
        Self {
            id: m.id,
            seq: m.seq,
            actor_id: m.actor_id,
            actor_name: m.actor_name,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            request_id: m.request_id,
            ip: m.ip,
            user_agent: m.user_agent,
            summary: m.summary,
            created_at: m.created_at,
            hash: m.hash,
        }
    }
}

/// List audit records of the caller's tenant (permission `audit:read`).
#[utoipa::path(
    get,
    path = "/audit-logs",
    tag = "audit",
    params(AuditFilter),
    responses(
        (status = 200, body = Page<AuditRecord>),
        (status = 400, body = crate::error::ErrorEnvelope),
        (status = 401, body = crate::error::ErrorEnvelope),
        (status = 403, body = crate::error::ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_audit_logs(
    kernel: web::Data<Kernel>,
    principal: Principal,
    filter: web::Query<AuditFilter>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::AUDIT_READ)?;
    let filter = filter.into_inner();
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .resolve()?;
    let mut query =
        audit_log::Entity::find().filter(audit_log::Column::TenantId.eq(principal.tenant_id));
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::Column::ActorId.eq(actor));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::Column::Action.eq(action));
    }
    if let Some(target_type) = filter.target_type {
        query = query.filter(audit_log::Column::TargetType.eq(target_type));
    }
    if let Some(target_id) = filter.target_id {
        query = query.filter(audit_log::Column::TargetId.eq(target_id));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::Column::CreatedAt.lt(to));
    }
    let found = page
        .fetch(
            query,
            audit_log::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |r| r.id,
        )
        .await?;
    let page = found.map(AuditRecord::from);
    Ok(HttpResponse::Ok().json(page))
}
