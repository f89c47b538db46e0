//! Member levels: per tenant, by lifetime points. Cached (in-process or Redis) and
//! invalidated after every change, so an edit is visible to the next request on every
//! replica.

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::level;
use crate::store::Balances;

const TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LevelView {
    pub id: i64,
    pub name: String,
    /// Lifetime points from which a member holds this level.
    pub threshold: i64,
    #[schema(value_type = Object)]
    pub benefits: serde_json::Value,
}

impl From<level::Model> for LevelView {
    fn from(m: level::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            threshold: m.threshold,
            benefits: m.benefits,
        }
    }
}

fn key(tenant: i64) -> String {
    format!("points:levels:{tenant}")
}

/// The tenant's levels by threshold. Reads through `db` on a cache miss, so it is safe
/// inside a transaction.
pub async fn all<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    tenant: i64,
) -> AppResult<Vec<LevelView>> {
    let cache = &kernel.cache.cache;
    match cache.get(&key(tenant)).await {
        Ok(Some(text)) => {
            if let Ok(levels) = serde_json::from_str(&text) {
                return Ok(levels);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "level cache unavailable; reading the database"),
    }
    let levels: Vec<LevelView> = level::Entity::find()
        .filter(level::Column::TenantId.eq(tenant))
        .order_by_asc(level::Column::Threshold)
        .all(db)
        .await?
        .into_iter()
        .map(LevelView::from)
        .collect();
    if let Ok(text) = serde_json::to_string(&levels) {
        let _ = cache.set(&key(tenant), &text, TTL).await;
    }
    Ok(levels)
}

/// Drops the cached levels; call after a change commits.
pub async fn invalidate(kernel: &Kernel, tenant: i64) {
    if let Err(e) = kernel.cache.cache.delete(&key(tenant)).await {
        tracing::error!(error = %e, tenant, "level cache not invalidated; it expires within 10 minutes");
    }
}

/// The level the member reaches with its lifetime points, when higher than its
/// current one (levels are never lost by spending).
pub async fn promotion<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    tenant: i64,
    b: &Balances,
) -> AppResult<Option<i64>> {
    let levels = all(kernel, db, tenant).await?;
    let reached = levels
        .iter()
        .filter(|l| l.threshold <= b.lifetime_points)
        .max_by_key(|l| l.threshold);
    let current = b.level_id.and_then(|id| levels.iter().find(|l| l.id == id));
    Ok(match (reached, current) {
        (Some(r), Some(c)) if r.threshold > c.threshold => Some(r.id),
        (Some(r), None) => Some(r.id),
        _ => None,
    })
}
