//! The points ledger's behaviour, independent of HTTP. Every function runs inside the
//! caller's transaction and writes its audit record there, last (the tenant's audit
//! chain head is locked from then until commit, so it is held as briefly as possible).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::Serialize;
use serde_json::json;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::entry;
use crate::error;
use crate::levels;
use crate::settings::Settings;
use crate::store::{self, Balances};

/// Who performs an operation, and under which request.
pub struct Operator<'a> {
    pub ctx: &'a RequestContext,
    pub actor: Actor,
    pub tenant_id: i64,
    pub idempotency_key: Option<String>,
}

/// The outcome of one operation: its ledger entry and the balances after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryResult {
    pub entry_id: i64,
    pub member_id: String,
    /// earn, spend, adjust, expire, freeze, unfreeze or reversal.
    pub entry_type: String,
    pub points_delta: i64,
    pub frozen_delta: i64,
    pub balance_after: i64,
    pub total_points: i64,
    pub frozen_points: i64,
    pub lifetime_points: i64,
    pub category: String,
    pub reason: String,
    /// The level after the operation (earn promotes).
    pub current_level: Option<levels::LevelView>,
    pub created_at: DateTime<Utc>,
}

/// An entry to write.
struct NewEntry<'a> {
    entry_type: &'a str,
    points_delta: i64,
    frozen_delta: i64,
    category: &'a str,
    reason: &'a str,
    reverses: Option<i64>,
}

async fn write_entry<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    member: &str,
    b: &Balances,
    e: NewEntry<'_>,
) -> AppResult<entry::Model> {
    Ok(entry::ActiveModel {
        tenant_id: Set(op.tenant_id),
        profile_id: Set(b.profile_id),
        member_id: Set(member.to_string()),
        entry_type: Set(e.entry_type.to_string()),
        points_delta: Set(e.points_delta),
        frozen_delta: Set(e.frozen_delta),
        balance_after: Set(b.total_points),
        category: Set(e.category.to_string()),
        reason: Set(e.reason.to_string()),
        operator_id: Set(op.actor.id),
        operator_name: Set(op.actor.name.clone()),
        request_id: Set(op.ctx.request_id.clone()),
        idempotency_key: Set(op.idempotency_key.clone()),
        reverses_entry_id: Set(e.reverses),
        reversed_by_entry_id: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

async fn finish<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    entry: entry::Model,
    b: Balances,
) -> AppResult<EntryResult> {
    audit::record(
        db,
        op.ctx,
        &op.actor,
        Change {
            tenant_id: op.tenant_id,
            action: match entry.entry_type.as_str() {
                "earn" => "points.earn",
                "spend" => "points.spend",
                "adjust" => "points.adjust",
                "freeze" => "points.freeze",
                "unfreeze" => "points.unfreeze",
                "expire" => "points.expire",
                _ => "points.reverse",
            },
            target_type: "points_member",
            target_id: entry.member_id.clone(),
            summary: json!({
                "entry_id": entry.id,
                "points_delta": entry.points_delta,
                "frozen_delta": entry.frozen_delta,
                "balance_after": entry.balance_after,
                "category": entry.category,
                "reverses_entry_id": entry.reverses_entry_id,
            }),
        },
    )
    .await?;
    let level = match b.level_id {
        Some(id) => levels::all(kernel, db, op.tenant_id)
            .await?
            .into_iter()
            .find(|l| l.id == id),
        None => None,
    };
    Ok(EntryResult {
        entry_id: entry.id,
        member_id: entry.member_id,
        entry_type: entry.entry_type,
        points_delta: entry.points_delta,
        frozen_delta: entry.frozen_delta,
        balance_after: entry.balance_after,
        total_points: b.total_points,
        frozen_points: b.frozen_points,
        lifetime_points: b.lifetime_points,
        category: entry.category,
        reason: entry.reason,
        current_level: level,
        created_at: entry.created_at,
    })
}

/// The earned amount that becomes a lot: a balance in debt (overdraft) is repaid first.
fn lot_size(balance_after: i64, added: i64) -> i64 {
    balance_after.clamp(0, added)
}

pub struct Earn<'a> {
    pub member_id: &'a str,
    pub points: i64,
    pub category: &'a str,
    pub reason: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Earns points: profile created on first use, a lot with the expiry, promotion to the
/// highest level whose threshold the lifetime points reach.
pub async fn earn<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    e: Earn<'_>,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let mut b = store::add(db, op.tenant_id, e.member_id, e.points, e.points, now).await?;
    let entry = write_entry(
        db,
        op,
        e.member_id,
        &b,
        NewEntry {
            entry_type: "earn",
            points_delta: e.points,
            frozen_delta: 0,
            category: e.category,
            reason: e.reason,
            reverses: None,
        },
    )
    .await?;
    store::insert_lot(
        db,
        op.tenant_id,
        b.profile_id,
        entry.id,
        lot_size(b.total_points, e.points),
        e.expires_at,
        now,
    )
    .await?;
    if let Some(level) = levels::promotion(kernel, db, op.tenant_id, &b).await? {
        store::set_level(db, b.profile_id, level).await?;
        b.level_id = Some(level);
    }
    finish(kernel, db, op, entry, b).await
}

/// Spends points, never below zero: 409 `INSUFFICIENT_POINTS` otherwise.
pub async fn spend<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    member: &str,
    points: i64,
    reason: &str,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let Some(b) = store::take(db, op.tenant_id, member, points, 0, false, now).await? else {
        return Err(refusal(db, op.tenant_id, member, points).await?);
    };
    store::consume_lots(db, b.profile_id, points, None).await?;
    let entry = write_entry(
        db,
        op,
        member,
        &b,
        NewEntry {
            entry_type: "spend",
            points_delta: -points,
            frozen_delta: 0,
            category: "spend",
            reason,
            reverses: None,
        },
    )
    .await?;
    finish(kernel, db, op, entry, b).await
}

async fn refusal<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &str,
    required: i64,
) -> AppResult<AppError> {
    let available = store::find(db, tenant, member)
        .await?
        .map(|b| b.total_points)
        .unwrap_or(0);
    Ok(error::insufficient_points(required, available))
}

/// Adjusts by `delta` (needs `points:adjust`). A negative adjust cannot overdraw unless
/// the tenant allows overdraft.
pub async fn adjust<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    settings: &Settings,
    member: &str,
    delta: i64,
    reason: &str,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let (b, entry) = if delta > 0 {
        let b = store::add(db, op.tenant_id, member, delta, 0, now).await?;
        let entry = write_entry(
            db,
            op,
            member,
            &b,
            NewEntry {
                entry_type: "adjust",
                points_delta: delta,
                frozen_delta: 0,
                category: "manual",
                reason,
                reverses: None,
            },
        )
        .await?;
        store::insert_lot(
            db,
            op.tenant_id,
            b.profile_id,
            entry.id,
            lot_size(b.total_points, delta),
            None,
            now,
        )
        .await?;
        (b, entry)
    } else {
        let points = -delta;
        let Some(b) = store::take(
            db,
            op.tenant_id,
            member,
            points,
            0,
            settings.allow_overdraft,
            now,
        )
        .await?
        else {
            return Err(refusal(db, op.tenant_id, member, points).await?);
        };
        // Only points that existed can leave the lots; the rest is debt.
        let had = (b.total_points + points).max(0);
        store::consume_lots(db, b.profile_id, points.min(had), None).await?;
        let entry = write_entry(
            db,
            op,
            member,
            &b,
            NewEntry {
                entry_type: "adjust",
                points_delta: delta,
                frozen_delta: 0,
                category: "manual",
                reason,
                reverses: None,
            },
        )
        .await?;
        (b, entry)
    };
    finish(kernel, db, op, entry, b).await
}

/// Freezes (`points` > 0) or unfreezes (`points` < 0) points pending a return window.
pub async fn freeze<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    member: &str,
    points: i64,
    reason: &str,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let Some(b) = store::freeze(db, op.tenant_id, member, points, now).await? else {
        if points > 0 {
            return Err(refusal(db, op.tenant_id, member, points).await?);
        }
        let frozen = store::find(db, op.tenant_id, member)
            .await?
            .map(|b| b.frozen_points)
            .unwrap_or(0);
        return Err(error::insufficient_frozen(-points, frozen));
    };
    // Unfrozen points that repay an overdraft debt leave the lots, like a spend.
    let total_before = b.total_points + points;
    if points < 0 && total_before < 0 {
        store::consume_lots(db, b.profile_id, (-points).min(-total_before), None).await?;
    }
    let entry_type = if points > 0 { "freeze" } else { "unfreeze" };
    let entry = write_entry(
        db,
        op,
        member,
        &b,
        NewEntry {
            entry_type,
            points_delta: -points,
            frozen_delta: points,
            category: entry_type,
            reason,
            reverses: None,
        },
    )
    .await?;
    finish(kernel, db, op, entry, b).await
}

/// Reverses an earn, spend or adjust entry once, with an entry of the opposite effect.
pub async fn reverse<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    settings: &Settings,
    entry_id: i64,
    reason: &str,
) -> AppResult<EntryResult> {
    let original = entry::Entity::find_by_id(entry_id)
        .one(db)
        .await?
        .filter(|e| e.tenant_id == op.tenant_id)
        .ok_or_else(|| AppError::not_found("points entry"))?;
    if !matches!(original.entry_type.as_str(), "earn" | "spend" | "adjust") {
        return Err(error::entry_not_reversible(entry_id, &original.entry_type));
    }
    if original.reversed_by_entry_id.is_some() {
        return Err(error::entry_already_reversed(
            entry_id,
            original.reversed_by_entry_id,
        ));
    }
    let now = Utc::now();
    let member = original.member_id.as_str();
    let delta = -original.points_delta;
    let reason = if reason.is_empty() {
        format!("reversal of entry {entry_id}")
    } else {
        reason.to_string()
    };
    let b = if delta > 0 {
        let b = store::add(db, op.tenant_id, member, delta, 0, now).await?;
        (b, Some(lot_size(b.total_points, delta)))
    } else {
        let points = -delta;
        // An earn reversed also leaves the lifetime total.
        let lifetime = if original.entry_type == "earn" {
            points
        } else {
            0
        };
        let Some(b) = store::take(
            db,
            op.tenant_id,
            member,
            points,
            lifetime,
            settings.allow_overdraft,
            now,
        )
        .await?
        else {
            return Err(refusal(db, op.tenant_id, member, points).await?);
        };
        let had = (b.total_points + points).max(0);
        store::consume_lots(db, b.profile_id, points.min(had), Some(original.id)).await?;
        (b, None)
    };
    let (b, lot) = b;
    let entry = write_entry(
        db,
        op,
        member,
        &b,
        NewEntry {
            entry_type: "reversal",
            points_delta: delta,
            frozen_delta: 0,
            category: &original.category,
            reason: &reason,
            reverses: Some(entry_id),
        },
    )
    .await?;
    if let Some(points) = lot {
        store::insert_lot(db, op.tenant_id, b.profile_id, entry.id, points, None, now).await?;
    }
    // Conditional: of two concurrent reversals, one wins; the other rolls back.
    if !store::mark_reversed(db, entry_id, entry.id).await? {
        return Err(error::entry_already_reversed(entry_id, None));
    }
    finish(kernel, db, op, entry, b).await
}

/// Expires one lot past its expiry, if nobody else did. Points leave the available
/// balance first, then the frozen one.
pub async fn expire_lot<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    lot: &crate::entities::lot::Model,
) -> AppResult<Option<EntryResult>> {
    let Some(before) = store::lock(db, lot.profile_id).await? else {
        return Ok(None);
    };
    if !store::claim_expired_lot(db, lot.id, lot.remaining_points).await? {
        return Ok(None);
    }
    let from_available = lot.remaining_points.min(before.total_points.max(0));
    let from_frozen = lot.remaining_points - from_available;
    let now = Utc::now();
    let b = store::expire(db, lot.profile_id, from_available, from_frozen, now)
        .await?
        .ok_or_else(|| AppError::internal("profile vanished during expiry"))?;
    let member = crate::entities::profile::Entity::find_by_id(lot.profile_id)
        .one(db)
        .await?
        .map(|p| p.member_id)
        .unwrap_or_default();
    let entry = write_entry(
        db,
        op,
        &member,
        &b,
        NewEntry {
            entry_type: "expire",
            points_delta: -from_available,
            frozen_delta: -from_frozen,
            category: "expire",
            reason: &format!("lot {} expired", lot.id),
            reverses: None,
        },
    )
    .await?;
    finish(kernel, db, op, entry, b).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::lot_size;

    #[test]
    fn earned_points_repay_debt_before_forming_a_lot() {
        assert_eq!(lot_size(100, 30), 30);
        assert_eq!(lot_size(10, 30), 10, "20 went to the debt");
        assert_eq!(lot_size(-5, 30), 0);
    }
}
