//! The providers as the API shows them (state, configuration with secrets masked), and
//! the operational settings superadmins change without a restart: stored as overrides
//! over integrations.yaml, applied by every replica within its next reload.

use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::config::{yaml, Capability};
use crate::error::Code;
use crate::manager::{Manager, ProviderStatus};
use crate::store::overrides::{self as store, Values};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub providers: Vec<ProviderStatus>,
    /// Why the last change of integrations.yaml was refused (the previous providers
    /// stay in force), if it was.
    pub reload_error: Option<String>,
}

pub fn health(manager: &Manager) -> Health {
    Health {
        providers: manager.status(),
        reload_error: manager
            .reload_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    }
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

/// The providers in force.
pub fn views(manager: &Manager) -> Vec<ProviderView> {
    manager
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
            settings: serde_json::to_value(yaml::masked(&s.config.settings)).unwrap_or_default(),
        })
        .collect()
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderChange {
    pub enabled: Option<bool>,
    /// Lower is tried first (0 to 1000).
    #[schema(minimum = 0, maximum = 1000)]
    pub priority: Option<u32>,
    /// SMS sending limit per minute (0 = none, at most 100000).
    #[schema(minimum = 0, maximum = 100000)]
    pub per_minute: Option<u32>,
    /// SMS sending limit per day (0 = none, at most 100000000).
    #[schema(minimum = 0, maximum = 100000000)]
    pub per_day: Option<u32>,
}

/// The ranges the schema above declares.
const PRIORITY_MAX: u32 = 1000;
const PER_MINUTE_MAX: u32 = 100_000;
const PER_DAY_MAX: u32 = 100_000_000;

/// A checked change of one provider: what its override will hold.
pub struct Prepared {
    pub capability: Capability,
    pub values: Values,
}

/// Checks a change of provider `name` of `capability` (both must be configured, and
/// the change must change something) and merges it with the provider's override.
pub async fn prepare(
    kernel: &Kernel,
    manager: &Manager,
    capability: &str,
    name: &str,
    change: &ProviderChange,
) -> AppResult<Prepared> {
    let cap = Capability::parse(capability).ok_or_else(|| {
        AppError::not_found("capability").with_details(json!({
            "resource": "capability",
            "valid": Capability::ALL.map(Capability::as_str),
        }))
    })?;
    manager
        .provider(cap, name)
        .ok_or_else(|| AppError::not_found("provider"))?;
    if change.enabled.is_none()
        && change.priority.is_none()
        && change.per_minute.is_none()
        && change.per_day.is_none()
    {
        let mut errors = FieldErrors::new();
        errors.add(
            "body",
            tr!(
                "请至少提供 enabled、priority、per_minute、per_day 之一",
                "give at least one of enabled, priority, per_minute, per_day"
            ),
        );
        return Err(AppError::validation(errors));
    }
    let mut errors = FieldErrors::new();
    for (field, value, max) in [
        ("priority", change.priority, PRIORITY_MAX),
        ("per_minute", change.per_minute, PER_MINUTE_MAX),
        ("per_day", change.per_day, PER_DAY_MAX),
    ] {
        if value.is_some_and(|v| v > max) {
            errors.add(field, tr!("不能超过 {max}", "must be at most {max}"));
        }
    }
    errors.into_result()?;
    let existing = store::of(&kernel.db, capability, name).await?;
    let old = existing.as_ref();
    Ok(Prepared {
        capability: cap,
        values: Values {
            enabled: change.enabled.or(old.and_then(|o| o.enabled)),
            priority: change
                .priority
                .map(i64::from)
                .or(old.and_then(|o| o.priority)),
            per_minute: (change.per_minute.map(i64::from)).or(old.and_then(|o| o.per_minute)),
            per_day: change
                .per_day
                .map(i64::from)
                .or(old.and_then(|o| o.per_day)),
        },
    })
}

/// Stores the override, with its audit record (under the caller's tenant).
pub async fn save(
    txn: &DatabaseTransaction,
    ctx: &RequestContext,
    actor: &Actor,
    tenant: i64,
    name: &str,
    prepared: Prepared,
    change: &ProviderChange,
) -> AppResult<()> {
    let capability = prepared.capability.as_str();
    store::put(txn, capability, name, prepared.values, &actor.name).await?;
    audit::record(
        txn,
        ctx,
        actor,
        Change {
            tenant_id: tenant,
            action: "integrations.provider.update",
            target_type: "provider",
            target_id: format!("{capability}.{name}"),
            summary: json!(change),
        },
    )
    .await?;
    Ok(())
}

/// Applies the stored overrides on this replica at once (the others within their next
/// poll); the provider as it is then.
pub async fn applied(
    kernel: &Kernel,
    manager: &Manager,
    capability: Capability,
    name: &str,
) -> AppResult<ProviderView> {
    manager.reload_if_changed(kernel).await.map_err(|reason| {
        Code::IntegrationsConfigInvalid
            .err()
            .with_details(json!({ "reason": reason }))
    })?;
    views(manager)
        .into_iter()
        .find(|v| v.capability == capability && v.name == name)
        .ok_or_else(|| AppError::not_found("provider"))
}
