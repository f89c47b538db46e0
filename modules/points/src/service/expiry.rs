//! Expiry: lots past `expires_at` leave the balance, each in its own transaction (one
//! failing lot never holds back the others; the next pass retries it). Safe with
//! several replicas running the job: a lot is claimed by a conditional update, so each
//! is expired exactly once.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use shopops_kernel::audit::Actor;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppError, AppResult, Job, Kernel};

use super::domain::EntryType;
use super::ledger::{finish, write_entry, NewEntry};
use super::Operator;
use crate::entities::{lot, profile};
use crate::store;

/// Lots read per query.
const BATCH: u64 = 500;

/// The scheduled job: a pass every minute, so points are gone within a minute of
/// their expiry.
pub fn job() -> Job {
    Job::new(
        "points_expiry",
        Duration::from_secs(60),
        |kernel: Kernel| async move {
            let n = expire_due(&kernel).await?;
            if n > 0 {
                tracing::info!(lots = n, "expired points lots");
            }
            Ok(())
        },
    )
    .one_leader()
}

/// One pass over every tenant: expires every lot due now. Returns how many this pass
/// expired (a lot another replica expired first is not counted).
pub async fn expire_due(kernel: &Kernel) -> Result<u64, String> {
    let now = Utc::now();
    let mut expired = 0;
    let mut after = 0;
    loop {
        // All tenants at once: the job works for the platform, and each lot carries
        // its tenant into every statement that expires it. Paged by id, so a lot that
        // fails is not read again in this pass.
        let due = lot::Entity::find()
            .filter(lot::Column::Id.gt(after))
            .filter(lot::Column::RemainingPoints.gt(0))
            .filter(lot::Column::ExpiresAt.lte(now))
            .order_by_asc(lot::Column::Id)
            .limit(BATCH)
            .all(&kernel.db)
            .await
            .map_err(|e| e.to_string())?;
        let n = due.len() as u64;
        for lot in due {
            after = lot.id;
            match expire_one(kernel, &lot).await {
                Ok(true) => expired += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lot = lot.id, error = %e, "lot not expired; the next pass retries")
                }
            }
        }
        if n < BATCH {
            return Ok(expired);
        }
    }
}

/// Expires one lot in a transaction of its own; false when someone else did.
async fn expire_one(kernel: &Kernel, lot: &lot::Model) -> AppResult<bool> {
    let ctx = RequestContext {
        request_id: format!("job-expire-{}", lot.id),
        ip: None,
        user_agent: None,
    };
    let op = Operator {
        ctx: &ctx,
        actor: Actor::system("points_expiry"),
        tenant_id: lot.tenant_id,
        idempotency_key: None,
    };
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    match expire_lot(kernel, &txn, &op, lot).await {
        Ok(applied) => {
            txn.commit().await?;
            Ok(applied)
        }
        Err(e) => {
            txn.rollback().await?;
            Err(e)
        }
    }
}

/// Expires the remainder of a lot past its expiry, if nobody else did. Points leave the
/// available balance first, then the frozen one.
async fn expire_lot<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    lot: &lot::Model,
) -> AppResult<bool> {
    let tenant = lot.tenant_id;
    let Some(before) = store::lock(db, tenant, lot.profile_id).await? else {
        return Ok(false);
    };
    if !store::claim_expired_lot(db, tenant, lot.id, lot.remaining_points).await? {
        return Ok(false);
    }
    let from_available = lot.remaining_points.min(before.total_points.max(0));
    let from_frozen = lot.remaining_points - from_available;
    let b = store::expire(
        db,
        tenant,
        lot.profile_id,
        from_available,
        from_frozen,
        Utc::now(),
    )
    .await?
    .ok_or_else(|| AppError::internal("points profile vanished during expiry"))?;
    // The profile is locked above: it exists until the transaction ends.
    let member = profile::Entity::find_by_id(lot.profile_id)
        .filter(profile::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("points profile vanished during expiry"))?
        .member_id;
    let reason = format!("lot {} expired", lot.id);
    let new = NewEntry {
        entry_type: EntryType::Expire,
        points_delta: -from_available,
        frozen_delta: -from_frozen,
        category: EntryType::Expire.as_str(),
        reason: &reason,
        reverses: None,
    };
    let entry = write_entry(db, op, &member, &b, new).await?;
    finish(kernel, db, op, EntryType::Expire, entry, b).await?;
    Ok(true)
}
