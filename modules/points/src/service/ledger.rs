//! The ledger's operations: earn, spend, adjust, freeze/unfreeze, reverse. Each one, in
//! the caller's transaction: a single conditional statement changes the balance (see
//! [`crate::store`]), then the entry, the lots and the audit record are written.
//! Lots hold the points that may expire: `Σ lot remainders = max(total, 0) + frozen`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::domain::{Adjustment, Category, EntryType, MemberId, Points, Reason};
use super::levels::{self, LevelView};
use super::Operator;
use crate::entities::entry;
use crate::error;
use crate::store::{self, Balances, Hold, Lifetime, NewLot, Overdraft};

/// The outcome of one operation: its ledger entry and the balances after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryResult {
    pub entry_id: i64,
    pub member_id: String,
    pub entry_type: EntryType,
    pub points_delta: i64,
    pub frozen_delta: i64,
    pub balance_after: i64,
    pub total_points: i64,
    pub frozen_points: i64,
    pub lifetime_points: i64,
    /// The earn category; for entries that have none, the entry type.
    pub category: String,
    pub reason: String,
    /// The level after the operation (earn promotes).
    pub current_level: Option<LevelView>,
    pub created_at: DateTime<Utc>,
}

/// An entry to write.
pub(super) struct NewEntry<'a> {
    pub entry_type: EntryType,
    pub points_delta: i64,
    pub frozen_delta: i64,
    pub category: &'a str,
    pub reason: &'a str,
    pub reverses: Option<i64>,
}

pub(super) async fn write_entry<C: ConnectionTrait>(
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
        entry_type: Set(e.entry_type.as_str().to_string()),
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

/// Records the entry in the audit log and answers with it and the balances.
pub(super) async fn finish<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    entry_type: EntryType,
    entry: entry::Model,
    b: Balances,
) -> AppResult<EntryResult> {
    let summary = json!({
        "entry_id": entry.id,
        "points_delta": entry.points_delta,
        "frozen_delta": entry.frozen_delta,
        "balance_after": entry.balance_after,
        "category": entry.category,
        "reverses_entry_id": entry.reverses_entry_id,
    });
    op.audit(
        db,
        entry_type.audit_action(),
        "points_member",
        entry.member_id.clone(),
        summary,
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
        entry_type,
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

/// The added amount that becomes a lot: a balance in debt (overdraft) is repaid first.
fn lot_size(balance_after: i64, added: i64) -> i64 {
    balance_after.clamp(0, added)
}

/// 409 `INSUFFICIENT_POINTS` with what the member holds now.
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

pub struct Earn {
    pub member: MemberId,
    pub points: Points,
    pub category: Category,
    pub reason: Reason,
    /// None: the points never expire.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Earns points: profile created on first use, a lot with the expiry, promotion to the
/// highest level whose threshold the lifetime points reach.
pub async fn earn<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    e: &Earn,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let (tenant, member, points) = (op.tenant_id, e.member.as_str(), e.points.get());
    let mut b = store::add(db, tenant, member, points, Lifetime::Counts, now)
        .await?
        .ok_or_else(|| error::balance_limit(points))?;
    let new = NewEntry {
        entry_type: EntryType::Earn,
        points_delta: points,
        frozen_delta: 0,
        category: e.category.as_str(),
        reason: e.reason.as_str(),
        reverses: None,
    };
    let entry = write_entry(db, op, member, &b, new).await?;
    let lot = NewLot {
        tenant,
        profile_id: b.profile_id,
        entry_id: entry.id,
        points: lot_size(b.total_points, points),
        expires_at: e.expires_at,
    };
    store::insert_lot(db, lot, now).await?;
    if let Some(level) = levels::promotion(kernel, db, tenant, &b).await? {
        store::set_level(db, tenant, b.profile_id, level).await?;
        b.level_id = Some(level);
    }
    finish(kernel, db, op, EntryType::Earn, entry, b).await
}

/// How a batch treats a failing item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// The first failure fails the batch: nothing is applied.
    AllOrNothing,
    /// A failed item leaves no trace; the others are applied.
    EachOnItsOwn,
}

/// Earns for several members in the caller's transaction, each item in a savepoint, in
/// order. The answer has one result per item (or, all or nothing, the first failure).
pub async fn earn_batch<C: ConnectionTrait + TransactionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    items: &[Earn],
    mode: BatchMode,
) -> AppResult<Vec<AppResult<EntryResult>>> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        // A savepoint in the caller's transaction, which `db::begin_write` began.
        #[allow(clippy::disallowed_methods)]
        let savepoint = db.begin().await?;
        match earn(kernel, &savepoint, op, item).await {
            Ok(entry) => {
                savepoint.commit().await?;
                results.push(Ok(entry));
            }
            Err(err) => {
                savepoint.rollback().await?;
                if mode == BatchMode::AllOrNothing {
                    return Err(err);
                }
                results.push(Err(err));
            }
        }
    }
    Ok(results)
}

/// Points of a member moved for a reason: a spend, a freeze or an unfreeze.
pub struct Movement {
    pub member: MemberId,
    pub points: Points,
    pub reason: Reason,
}

/// Spends points, never below zero: 409 `INSUFFICIENT_POINTS` otherwise.
pub async fn spend<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    s: &Movement,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let (tenant, member, points) = (op.tenant_id, s.member.as_str(), s.points.get());
    let taken = store::take(
        db,
        tenant,
        member,
        points,
        Lifetime::Unchanged,
        Overdraft::Refused,
        now,
    )
    .await?;
    let Some(b) = taken else {
        return Err(refusal(db, tenant, member, points).await?);
    };
    store::consume_lots(db, tenant, b.profile_id, points, None).await?;
    let new = NewEntry {
        entry_type: EntryType::Spend,
        points_delta: -points,
        frozen_delta: 0,
        category: EntryType::Spend.as_str(),
        reason: s.reason.as_str(),
        reverses: None,
    };
    let entry = write_entry(db, op, member, &b, new).await?;
    finish(kernel, db, op, EntryType::Spend, entry, b).await
}

pub struct Adjust {
    pub member: MemberId,
    pub adjustment: Adjustment,
    pub reason: Reason,
}

/// Adjusts a balance (category `manual`). A debit cannot overdraw unless the tenant
/// allows overdraft; a credit repays a debt before it forms a lot.
pub async fn adjust<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    overdraft: Overdraft,
    a: &Adjust,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let (tenant, member) = (op.tenant_id, a.member.as_str());
    let new = NewEntry {
        entry_type: EntryType::Adjust,
        points_delta: a.adjustment.signed(),
        frozen_delta: 0,
        category: Category::Manual.as_str(),
        reason: a.reason.as_str(),
        reverses: None,
    };
    let (b, entry) = match a.adjustment {
        Adjustment::Credit(points) => {
            let points = points.get();
            let b = store::add(db, tenant, member, points, Lifetime::Unchanged, now)
                .await?
                .ok_or_else(|| error::balance_limit(points))?;
            let entry = write_entry(db, op, member, &b, new).await?;
            let lot = NewLot {
                tenant,
                profile_id: b.profile_id,
                entry_id: entry.id,
                points: lot_size(b.total_points, points),
                expires_at: None,
            };
            store::insert_lot(db, lot, now).await?;
            (b, entry)
        }
        Adjustment::Debit(points) => {
            let points = points.get();
            let taken = store::take(
                db,
                tenant,
                member,
                points,
                Lifetime::Unchanged,
                overdraft,
                now,
            )
            .await?;
            let Some(b) = taken else {
                return Err(refusal(db, tenant, member, points).await?);
            };
            // Only points that existed can leave the lots; the rest is debt.
            let had = (b.total_points + points).max(0);
            store::consume_lots(db, tenant, b.profile_id, points.min(had), None).await?;
            (b, write_entry(db, op, member, &b, new).await?)
        }
    };
    finish(kernel, db, op, EntryType::Adjust, entry, b).await
}

/// Freezes available points (pending a return window) or releases frozen ones.
pub async fn hold<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    hold: Hold,
    m: &Movement,
) -> AppResult<EntryResult> {
    let now = Utc::now();
    let (tenant, member, points) = (op.tenant_id, m.member.as_str(), m.points.get());
    let Some(b) = store::hold(db, tenant, member, hold, points, now).await? else {
        return Err(match hold {
            Hold::Freeze => refusal(db, tenant, member, points).await?,
            Hold::Unfreeze => {
                let frozen = store::find(db, tenant, member)
                    .await?
                    .map(|b| b.frozen_points)
                    .unwrap_or(0);
                error::insufficient_frozen(points, frozen)
            }
        });
    };
    let (entry_type, points_delta) = match hold {
        Hold::Freeze => (EntryType::Freeze, -points),
        Hold::Unfreeze => (EntryType::Unfreeze, points),
    };
    // Unfrozen points that repay an overdraft debt leave the lots, like a spend.
    let total_before = b.total_points - points_delta;
    if hold == Hold::Unfreeze && total_before < 0 {
        let repaid = points.min(-total_before);
        store::consume_lots(db, tenant, b.profile_id, repaid, None).await?;
    }
    let new = NewEntry {
        entry_type,
        points_delta,
        frozen_delta: -points_delta,
        category: entry_type.as_str(),
        reason: m.reason.as_str(),
        reverses: None,
    };
    let entry = write_entry(db, op, member, &b, new).await?;
    finish(kernel, db, op, entry_type, entry, b).await
}

/// Reverses an earn, spend or adjust entry once, with an entry of the opposite effect
/// (an empty reason becomes "reversal of entry {id}").
pub async fn reverse<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    overdraft: Overdraft,
    entry_id: i64,
    reason: &Reason,
) -> AppResult<EntryResult> {
    let tenant = op.tenant_id;
    let original = entry::Entity::find_by_id(entry_id)
        .filter(entry::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("points_entry"))?;
    let original_type = EntryType::parse(&original.entry_type).ok_or_else(|| {
        AppError::internal(format!(
            "points entry {entry_id} has the unknown type `{}`",
            original.entry_type
        ))
    })?;
    if !original_type.is_reversible() {
        return Err(error::entry_not_reversible(entry_id, original_type));
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
        reason.as_str().to_string()
    };
    let (b, lot) = if delta > 0 {
        let b = store::add(db, tenant, member, delta, Lifetime::Unchanged, now)
            .await?
            .ok_or_else(|| error::balance_limit(delta))?;
        (b, Some(lot_size(b.total_points, delta)))
    } else {
        let points = -delta;
        // An earn reversed also leaves the lifetime total.
        let lifetime = if original_type == EntryType::Earn {
            Lifetime::Counts
        } else {
            Lifetime::Unchanged
        };
        let taken = store::take(db, tenant, member, points, lifetime, overdraft, now).await?;
        let Some(b) = taken else {
            return Err(refusal(db, tenant, member, points).await?);
        };
        let had = (b.total_points + points).max(0);
        store::consume_lots(db, tenant, b.profile_id, points.min(had), Some(original.id)).await?;
        (b, None)
    };
    let new = NewEntry {
        entry_type: EntryType::Reversal,
        points_delta: delta,
        frozen_delta: 0,
        category: &original.category,
        reason: &reason,
        reverses: Some(entry_id),
    };
    let entry = write_entry(db, op, member, &b, new).await?;
    if let Some(points) = lot {
        let lot = NewLot {
            tenant,
            profile_id: b.profile_id,
            entry_id: entry.id,
            points,
            expires_at: None,
        };
        store::insert_lot(db, lot, now).await?;
    }
    // Conditional: of two concurrent reversals, one wins; the other rolls back.
    if !store::mark_reversed(db, tenant, entry_id, entry.id).await? {
        return Err(error::entry_already_reversed(entry_id, None));
    }
    finish(kernel, db, op, EntryType::Reversal, entry, b).await
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
