//! Per-tenant points settings: the bounds of one operation and the overdraft policy.
//! Read through a cache that a change drops after it commits.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::{tr, AppResult, Kernel};
use utoipa::ToSchema;

use super::domain::Points;
use super::validate::{Bounds, Check};
use super::Operator;
use crate::entities::settings;
use crate::store::Overdraft;

const TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Smallest amount of one earn/spend/freeze (default 1).
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub min_per_operation: i64,
    /// Largest amount of one operation, at least `min_per_operation` (default 10000).
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub max_per_operation: i64,
    /// Whether a negative adjust or a reversal may take a balance below zero (default
    /// false).
    pub allow_overdraft: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            min_per_operation: 1,
            max_per_operation: 10_000,
            allow_overdraft: false,
        }
    }
}

impl Settings {
    pub fn bounds(&self) -> Bounds {
        Bounds {
            min: self.min_per_operation,
            max: self.max_per_operation,
        }
    }

    pub fn overdraft(&self) -> Overdraft {
        if self.allow_overdraft {
            Overdraft::Allowed
        } else {
            Overdraft::Refused
        }
    }

    /// 422 unless 1 ≤ min ≤ max ≤ [`Points::MAX`].
    fn check(&self) -> AppResult<()> {
        let mut check = Check::fields();
        if self.min_per_operation < 1 {
            check.add(
                "min_per_operation",
                tr!("必须至少为1", "must be at least 1"),
            );
        }
        if self.max_per_operation < self.min_per_operation || self.max_per_operation > Points::MAX {
            let max = Points::MAX;
            check.add(
                "max_per_operation",
                tr!(
                    "必须不小于 min_per_operation 且不超过 {max}",
                    "must be at least min_per_operation and at most {max}"
                ),
            );
        }
        check.finish(Some(()))
    }
}

fn key(tenant: i64) -> String {
    format!("points:settings:{tenant}")
}

/// The tenant's settings (the defaults until it saves its own).
pub async fn get<C: ConnectionTrait>(kernel: &Kernel, db: &C, tenant: i64) -> AppResult<Settings> {
    if let Ok(Some(text)) = kernel.cache.cache.get(&key(tenant)).await {
        if let Ok(s) = serde_json::from_str(&text) {
            return Ok(s);
        }
    }
    let found = settings::Entity::find_by_id(tenant).one(db).await?;
    let s = found
        .map(|m| Settings {
            min_per_operation: m.min_per_operation,
            max_per_operation: m.max_per_operation,
            allow_overdraft: m.allow_overdraft,
        })
        .unwrap_or_default();
    if let Ok(text) = serde_json::to_string(&s) {
        let _ = kernel.cache.cache.set(&key(tenant), &text, TTL).await;
    }
    Ok(s)
}

/// Saves the tenant's settings (422 when the bounds contradict each other). Drop the
/// cache ([`invalidate`]) once committed.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    s: Settings,
) -> AppResult<Settings> {
    s.check()?;
    let row = settings::ActiveModel {
        tenant_id: Set(op.tenant_id),
        min_per_operation: Set(s.min_per_operation),
        max_per_operation: Set(s.max_per_operation),
        allow_overdraft: Set(s.allow_overdraft),
        updated_at: Set(Utc::now()),
    };
    settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(settings::Column::TenantId)
                .update_columns([
                    settings::Column::MinPerOperation,
                    settings::Column::MaxPerOperation,
                    settings::Column::AllowOverdraft,
                    settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    let target = op.tenant_id.to_string();
    op.audit(
        db,
        "points.settings.update",
        "points_settings",
        target,
        json!(s),
    )
    .await?;
    Ok(s)
}

pub async fn invalidate(kernel: &Kernel, tenant: i64) {
    if let Err(e) = kernel.cache.cache.delete(&key(tenant)).await {
        tracing::error!(error = %e, tenant, "points settings cache not invalidated; it expires within 5 minutes");
    }
}
