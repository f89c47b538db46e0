//! `/health` and `/providers`: each provider's state, configuration (secrets masked),
//! and the operational settings superadmins change without a restart.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{ErrorEnvelope, FieldErrors};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::State;
use crate::config::{self, Capability};
use crate::entities::provider_override;
use crate::manager::ProviderStatus;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub providers: Vec<ProviderStatus>,
    /// Why the last change of integrations.yaml was refused (the previous providers
    /// stay in force), if it was.
    pub reload_error: Option<String>,
}

/// Every provider's circuit, success rate and average latency over its recent calls
/// (permission `integrations:read`).
#[utoipa::path(get, path = "/health", tag = "integrations", responses((status = 200, body = Health)), security(("bearer" = [])))]
pub async fn health(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "integrations:read")?;
    Ok(HttpResponse::Ok().json(Health {
        providers: state.manager.status(),
        reload_error: state
            .manager
            .reload_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub capability: Capability,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub priority: u32,
    pub timeout_secs: u64,
    pub per_minute: u32,
    pub per_day: u32,
    /// Secrets shown as `***`.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

fn views(state: &State) -> Vec<ProviderView> {
    state
        .manager
        .registry()
        .slots
        .iter()
        .map(|s| ProviderView {
            capability: s.config.capability,
            name: s.config.name.clone(),
            kind: s.config.kind.clone(),
            enabled: s.config.enabled,
            priority: s.config.priority,
            timeout_secs: s.config.timeout.as_secs(),
            per_minute: s.config.per_minute,
            per_day: s.config.per_day,
            settings: serde_json::to_value(config::masked(&s.config.settings)).unwrap_or_default(),
        })
        .collect()
}

/// The providers in force (permission `integrations:manage`).
#[utoipa::path(get, path = "/providers", tag = "integrations", responses((status = 200, body = Vec<ProviderView>)), security(("bearer" = [])))]
pub async fn list(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "integrations:manage")?;
    Ok(HttpResponse::Ok().json(views(&state)))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderChange {
    pub enabled: Option<bool>,
    /// Lower is tried first.
    pub priority: Option<u32>,
    /// SMS sending limits (0 = none).
    pub per_minute: Option<u32>,
    pub per_day: Option<u32>,
}

/// Change a provider's operational settings live, on every replica (permission
/// `integrations:manage`). Credentials stay in integrations.yaml and the environment.
#[utoipa::path(put, path = "/providers/{capability}/{name}", tag = "integrations",
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
    principal.require(&kernel, "integrations:manage")?;
    let (cap, name) = path.into_inner();
    let capability = Capability::parse(&cap).ok_or_else(|| {
        AppError::not_found("capability")
            .with_details(json!({ "valid": Capability::ALL.map(Capability::as_str) }))
    })?;
    state
        .manager
        .provider(capability, &name)
        .ok_or_else(|| AppError::not_found("provider"))?;
    let change = body.into_inner();
    if change.enabled.is_none()
        && change.priority.is_none()
        && change.per_minute.is_none()
        && change.per_day.is_none()
    {
        let mut errors = FieldErrors::new();
        errors.add(
            "body",
            "give at least one of enabled, priority, per_minute, per_day",
        );
        return Err(AppError::validation(errors));
    }
    let existing = provider_override::Entity::find_by_id((cap.clone(), name.clone()))
        .one(&kernel.db)
        .await?;
    let merged = provider_override::ActiveModel {
        capability: Set(cap.clone()),
        name: Set(name.clone()),
        enabled: Set(change.enabled.or(existing.as_ref().and_then(|e| e.enabled))),
        priority: Set(change
            .priority
            .map(i64::from)
            .or(existing.as_ref().and_then(|e| e.priority))),
        per_minute: Set(change
            .per_minute
            .map(i64::from)
            .or(existing.as_ref().and_then(|e| e.per_minute))),
        per_day: Set(change
            .per_day
            .map(i64::from)
            .or(existing.as_ref().and_then(|e| e.per_day))),
        updated_by: Set(principal.username.clone()),
        updated_at: Set(Utc::now()),
    };
    let response = idempotency::execute(&kernel, None, async |txn| {
        provider_override::Entity::insert(merged)
            .on_conflict(
                OnConflict::columns([
                    provider_override::Column::Capability,
                    provider_override::Column::Name,
                ])
                .update_columns([
                    provider_override::Column::Enabled,
                    provider_override::Column::Priority,
                    provider_override::Column::PerMinute,
                    provider_override::Column::PerDay,
                    provider_override::Column::UpdatedBy,
                    provider_override::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "integrations.provider.update",
                target_type: "provider",
                target_id: format!("{cap}.{name}"),
                summary: json!(&change),
            },
        )
        .await?;
        WriteOutcome::new(actix_web::http::StatusCode::OK, &json!({}))
    })
    .await?;
    drop(response);
    // This replica at once; the others within their next poll.
    state
        .manager
        .reload_if_changed(&kernel)
        .await
        .map_err(|e| {
            AppError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "INTEGRATIONS_CONFIG_INVALID",
                e,
            )
        })?;
    let view = views(&state)
        .into_iter()
        .find(|v| v.capability == capability && v.name == name)
        .ok_or_else(|| AppError::not_found("provider"))?;
    Ok(HttpResponse::Ok().json(view))
}
