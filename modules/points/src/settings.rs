//! Per-tenant points settings: bounds of one operation and the overdraft policy.

use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::settings;
use crate::validate::Bounds;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Smallest amount of one earn/spend/freeze (default 1).
    pub min_per_operation: i64,
    /// Largest amount of one operation (default 10000).
    pub max_per_operation: i64,
    /// Whether a negative adjust may take a balance below zero (default false).
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
}

fn key(tenant: i64) -> String {
    format!("points:settings:{tenant}")
}

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
        let _ = kernel
            .cache
            .cache
            .set(&key(tenant), &text, Duration::from_secs(300))
            .await;
    }
    Ok(s)
}

pub async fn invalidate(kernel: &Kernel, tenant: i64) {
    if let Err(e) = kernel.cache.cache.delete(&key(tenant)).await {
        tracing::error!(error = %e, tenant, "points settings cache not invalidated; it expires within 5 minutes");
    }
}
