//! Member levels: per tenant, by lifetime points; a member is promoted on earning and
//! never demoted by spending. Read through a cache (in-process or Redis) that every
//! change drops after it commits, so an edit is visible to the next request on every
//! replica.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopops_kernel::validate::display_name;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::validate::Check;
use super::Operator;
use crate::entities::{level, profile};
use crate::error;
use crate::store::Balances;

const TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LevelView {
    pub id: i64,
    pub name: String,
    /// Lifetime points from which a member holds this level.
    pub threshold: i64,
    #[schema(value_type = Object)]
    pub benefits: Value,
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

/// A level to create, checked: a display name, a threshold ≥ 0, benefits an object.
pub struct NewLevel {
    pub name: String,
    pub threshold: i64,
    pub benefits: Value,
}

/// The fields of a level to change (absent = unchanged), checked like [`NewLevel`]'s.
pub struct LevelChange {
    pub name: Option<String>,
    pub threshold: Option<i64>,
    pub benefits: Option<Value>,
}

fn check_fields(
    check: &mut Check,
    name: Option<&str>,
    threshold: Option<i64>,
    benefits: Option<&Value>,
) {
    if let Some(name) = name {
        check.rule(|errors| display_name("name", name, errors));
    }
    if threshold.is_some_and(|t| !(0..=crate::store::MAX_BALANCE).contains(&t)) {
        check.add(
            "threshold",
            tr!(
                "必须在 0 到 {} 之间",
                "must be 0 to {}",
                crate::store::MAX_BALANCE
            ),
        );
    }
    if benefits.is_some_and(|b| !(b.is_object() || b.is_null())) {
        check.add("benefits", tr!("必须是JSON对象", "must be a JSON object"));
    }
}

impl NewLevel {
    /// `benefits` null or absent: none (`{}`).
    pub fn parse(name: &str, threshold: i64, benefits: Value) -> AppResult<Self> {
        let mut check = Check::fields();
        check_fields(&mut check, Some(name), Some(threshold), Some(&benefits));
        check.finish(Some(Self {
            name: name.trim().to_string(),
            threshold,
            benefits: if benefits.is_null() {
                json!({})
            } else {
                benefits
            },
        }))
    }
}

impl LevelChange {
    pub fn parse(
        name: Option<&str>,
        threshold: Option<i64>,
        benefits: Option<Value>,
    ) -> AppResult<Self> {
        let mut check = Check::fields();
        check_fields(&mut check, name, threshold, benefits.as_ref());
        check.finish(Some(Self {
            name: name.map(|n| n.trim().to_string()),
            threshold,
            benefits,
        }))
    }
}

async fn find<C: ConnectionTrait>(db: &C, tenant: i64, id: i64) -> AppResult<level::Model> {
    level::Entity::find_by_id(id)
        .filter(level::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("points_level"))
}

/// Creates a level; 409 `LEVEL_CONFLICT` when its name or threshold is taken. Drop the
/// cache ([`invalidate`]) once committed.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    new: NewLevel,
) -> AppResult<LevelView> {
    let now = Utc::now();
    let saved = level::ActiveModel {
        tenant_id: Set(op.tenant_id),
        name: Set(new.name),
        threshold: Set(new.threshold),
        benefits: Set(new.benefits),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(error::level_conflict)?;
    let summary = json!({ "name": saved.name, "threshold": saved.threshold });
    op.audit(
        db,
        "points.level.create",
        "points_level",
        saved.id.to_string(),
        summary,
    )
    .await?;
    Ok(saved.into())
}

/// Changes a level; members are promoted to it on their next earn. Drop the cache
/// ([`invalidate`]) once committed.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    id: i64,
    change: LevelChange,
) -> AppResult<LevelView> {
    let current = find(db, op.tenant_id, id).await?;
    let mut active: level::ActiveModel = current.clone().into();
    if let Some(name) = change.name {
        active.name = Set(name);
    }
    if let Some(threshold) = change.threshold {
        active.threshold = Set(threshold);
    }
    if let Some(benefits) = change.benefits {
        active.benefits = Set(benefits);
    }
    active.updated_at = Set(Utc::now());
    let saved = active.update(db).await.map_err(error::level_conflict)?;
    let summary = json!({
        "before": { "name": current.name, "threshold": current.threshold },
        "after": { "name": saved.name, "threshold": saved.threshold },
    });
    op.audit(
        db,
        "points.level.update",
        "points_level",
        id.to_string(),
        summary,
    )
    .await?;
    Ok(saved.into())
}

/// Deletes a level; members holding it keep no level until their next promotion. Drop
/// the cache ([`invalidate`]) once committed.
pub async fn delete<C: ConnectionTrait>(db: &C, op: &Operator<'_>, id: i64) -> AppResult<()> {
    let tenant = op.tenant_id;
    let current = find(db, tenant, id).await?;
    profile::Entity::update_many()
        .col_expr(profile::Column::LevelId, Expr::value(Option::<i64>::None))
        .filter(profile::Column::TenantId.eq(tenant))
        .filter(profile::Column::LevelId.eq(id))
        .exec(db)
        .await?;
    level::Entity::delete_many()
        .filter(level::Column::TenantId.eq(tenant))
        .filter(level::Column::Id.eq(id))
        .exec(db)
        .await?;
    let summary = json!({ "name": current.name });
    op.audit(
        db,
        "points.level.delete",
        "points_level",
        id.to_string(),
        summary,
    )
    .await
}
