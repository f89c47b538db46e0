//! The ledger's SQL. Balance changes are single conditional statements
//! (`UPDATE … WHERE total_points >= $n RETURNING …`): there is no window between
//! reading a balance and writing it, and the row lock they take orders every write to
//! one member (lots are only touched after it). The same SQL runs on SQLite and
//! PostgreSQL (`$n` parameters, `RETURNING`, `ON CONFLICT`). Every statement names
//! the tenant whose rows it touches. Only two reads cross tenants, both the
//! platform's: the operator's integrity check ([`Scope::AllTenants`]) and the expiry
//! job's scan for due lots (`service::expiry`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};

/// Whether a change of available points changes lifetime points by as much (earning
/// does, and so does reversing an earn; adjustments and other reversals do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Counts,
    Unchanged,
}

impl Lifetime {
    fn of(self, points: i64) -> i64 {
        match self {
            Lifetime::Counts => points,
            Lifetime::Unchanged => 0,
        }
    }
}

/// Whether a debit may take the available balance below zero (the tenant's policy for
/// adjustments and reversals; a spend never may).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdraft {
    Allowed,
    Refused,
}

/// Which way points move between the available and the frozen balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Freeze,
    Unfreeze,
}

/// Which profiles a check covers: one tenant's (the API), or every tenant's (the
/// operator's `shopops points verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Tenant(i64),
    AllTenants,
}

/// A profile's balances after a statement.
#[derive(Debug, Clone, Copy)]
pub struct Balances {
    pub profile_id: i64,
    pub total_points: i64,
    pub frozen_points: i64,
    pub lifetime_points: i64,
    pub level_id: Option<i64>,
}

const RETURNING: &str = "RETURNING id, total_points, frozen_points, lifetime_points, level_id";

fn stmt<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

fn balances(row: QueryResult) -> Result<Balances, DbErr> {
    Ok(Balances {
        profile_id: row.try_get("", "id")?,
        total_points: row.try_get("", "total_points")?,
        frozen_points: row.try_get("", "frozen_points")?,
        lifetime_points: row.try_get("", "lifetime_points")?,
        level_id: row.try_get("", "level_id")?,
    })
}

async fn one<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<Balances>, DbErr> {
    db.query_one(stmt(db, sql, values))
        .await?
        .map(balances)
        .transpose()
}

/// The largest balance a profile may hold. Far above any real balance, and far enough
/// below `i64::MAX` that no sum over profiles, ledgers or lots can overflow.
pub const MAX_BALANCE: i64 = 1_000_000_000_000_000;

/// Adds `points` to the available balance (creating the profile on first use). None
/// when the balance or lifetime total would pass [`MAX_BALANCE`].
pub async fn add<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &str,
    points: i64,
    lifetime: Lifetime,
    now: DateTime<Utc>,
) -> Result<Option<Balances>, DbErr> {
    let sql = format!(
        "INSERT INTO points_profiles (tenant_id, member_id, total_points, frozen_points, lifetime_points, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $5) \
         ON CONFLICT (tenant_id, member_id) DO UPDATE SET \
           total_points = points_profiles.total_points + excluded.total_points, \
           lifetime_points = points_profiles.lifetime_points + excluded.lifetime_points, \
           updated_at = excluded.updated_at \
         WHERE points_profiles.total_points <= $6 - excluded.total_points \
           AND points_profiles.lifetime_points <= $6 - excluded.lifetime_points {RETURNING}"
    );
    one(
        db,
        &sql,
        vec![
            tenant.into(),
            member.into(),
            points.into(),
            lifetime.of(points).into(),
            now.into(),
            MAX_BALANCE.into(),
        ],
    )
    .await
}

/// The member's profile, created with nothing on first use and locked for the rest of
/// the transaction (for writes that attach data to a member: contact, VIP tags).
pub async fn ensure<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &str,
    now: DateTime<Utc>,
) -> Result<Balances, DbErr> {
    let sql = format!(
        "INSERT INTO points_profiles (tenant_id, member_id, total_points, frozen_points, lifetime_points, created_at, updated_at) \
         VALUES ($1, $2, 0, 0, 0, $3, $3) \
         ON CONFLICT (tenant_id, member_id) DO UPDATE SET updated_at = excluded.updated_at {RETURNING}"
    );
    one(db, &sql, vec![tenant.into(), member.into(), now.into()])
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)
}

/// Takes `points` from the available balance if it holds them (whatever it holds when
/// overdraft is allowed). None = refused, or no such member.
pub async fn take<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &str,
    points: i64,
    lifetime: Lifetime,
    overdraft: Overdraft,
    now: DateTime<Utc>,
) -> Result<Option<Balances>, DbErr> {
    let guard = match overdraft {
        Overdraft::Allowed => "",
        Overdraft::Refused => "AND total_points >= $3",
    };
    let sql = format!(
        "UPDATE points_profiles SET total_points = total_points - $3, lifetime_points = lifetime_points - $4, updated_at = $5 \
         WHERE tenant_id = $1 AND member_id = $2 {guard} {RETURNING}"
    );
    one(
        db,
        &sql,
        vec![
            tenant.into(),
            member.into(),
            points.into(),
            lifetime.of(points).into(),
            now.into(),
        ],
    )
    .await
}

/// Moves `points` from available to frozen or back. None when the source holds too
/// few, or no such member.
pub async fn hold<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &str,
    hold: Hold,
    points: i64,
    now: DateTime<Utc>,
) -> Result<Option<Balances>, DbErr> {
    // One statement for both ways: `$3` is what leaves the available balance.
    let (guard, points) = match hold {
        Hold::Freeze => ("total_points >= $3", points),
        Hold::Unfreeze => ("frozen_points >= -$3", -points),
    };
    let sql = format!(
        "UPDATE points_profiles SET total_points = total_points - $3, frozen_points = frozen_points + $3, updated_at = $4 \
         WHERE tenant_id = $1 AND member_id = $2 AND {guard} {RETURNING}"
    );
    one(
        db,
        &sql,
        vec![tenant.into(), member.into(), points.into(), now.into()],
    )
    .await
}

/// Locks a profile for the rest of the transaction and returns its balances.
pub async fn lock<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    profile_id: i64,
) -> Result<Option<Balances>, DbErr> {
    let sql = format!(
        "UPDATE points_profiles SET updated_at = updated_at WHERE id = $1 AND tenant_id = $2 {RETURNING}"
    );
    one(db, &sql, vec![profile_id.into(), tenant.into()]).await
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &str,
) -> Result<Option<Balances>, DbErr> {
    let sql = "SELECT id, total_points, frozen_points, lifetime_points, level_id FROM points_profiles WHERE tenant_id = $1 AND member_id = $2";
    one(db, sql, vec![tenant.into(), member.into()]).await
}

/// Applies a balance change to frozen points and available points at once (expiry).
pub async fn expire<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    profile_id: i64,
    from_available: i64,
    from_frozen: i64,
    now: DateTime<Utc>,
) -> Result<Option<Balances>, DbErr> {
    let sql = format!(
        "UPDATE points_profiles SET total_points = total_points - $2, frozen_points = frozen_points - $3, updated_at = $4 \
         WHERE id = $1 AND tenant_id = $5 {RETURNING}"
    );
    one(
        db,
        &sql,
        vec![
            profile_id.into(),
            from_available.into(),
            from_frozen.into(),
            now.into(),
            tenant.into(),
        ],
    )
    .await
}

pub async fn set_level<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    profile_id: i64,
    level_id: i64,
) -> Result<(), DbErr> {
    db.execute(stmt(
        db,
        "UPDATE points_profiles SET level_id = $2 WHERE id = $1 AND tenant_id = $3",
        vec![profile_id.into(), level_id.into(), tenant.into()],
    ))
    .await?;
    Ok(())
}

/// Points that entered a balance and may expire: what spends and expiry consume.
pub struct NewLot {
    pub tenant: i64,
    pub profile_id: i64,
    /// The entry that brought the points.
    pub entry_id: i64,
    pub points: i64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Records a lot; nothing when it holds no points (they all repaid a debt).
pub async fn insert_lot<C: ConnectionTrait>(
    db: &C,
    lot: NewLot,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let NewLot {
        tenant,
        profile_id,
        entry_id,
        points,
        expires_at,
    } = lot;
    if points <= 0 {
        return Ok(());
    }
    let sql = "INSERT INTO points_lots (tenant_id, profile_id, entry_id, original_points, remaining_points, expires_at, created_at) VALUES ($1, $2, $3, $4, $4, $5, $6)";
    db.execute(stmt(
        db,
        sql,
        vec![
            tenant.into(),
            profile_id.into(),
            entry_id.into(),
            points.into(),
            expires_at.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Consumes `points` from the profile's lots, earliest expiry first (lots of
/// `prefer_entry` before all others). Call only with the profile locked.
pub async fn consume_lots<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    profile_id: i64,
    points: i64,
    prefer_entry: Option<i64>,
) -> Result<i64, DbErr> {
    let mut left = points;
    if let Some(entry) = prefer_entry {
        let sql = "SELECT id, remaining_points FROM points_lots \
                   WHERE profile_id = $1 AND tenant_id = $2 AND entry_id = $3 AND remaining_points > 0 \
                   ORDER BY id ASC LIMIT 16";
        left = take_from_lots(
            db,
            sql,
            vec![profile_id.into(), tenant.into(), entry.into()],
            left,
        )
        .await?;
    }
    // In the order of the partial index `ix_points_lots_live` (migration 000020), so a
    // spend reads its first lots from the index instead of sorting every live lot.
    let sql = "SELECT id, remaining_points FROM points_lots \
               WHERE profile_id = $1 AND tenant_id = $2 AND remaining_points > 0 \
               ORDER BY expires_at ASC NULLS LAST, id ASC LIMIT 16";
    left = take_from_lots(db, sql, vec![profile_id.into(), tenant.into()], left).await?;
    Ok(points - left)
}

/// Takes up to `points` from the lots `sql` pages through (id and remaining points, 16
/// at a time, live lots only, in the order to consume them); returns what is left.
///
/// A page at a time: a member who earns often holds thousands of small lots, and a
/// spend needs the first few. Every lot of a page but the last one touched is emptied,
/// so the next page (remaining > 0) starts where this one ended.
async fn take_from_lots<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    params: Vec<Value>,
    points: i64,
) -> Result<i64, DbErr> {
    let mut left = points;
    while left > 0 {
        let rows = db.query_all(stmt(db, sql, params.clone())).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let remaining: i64 = row.try_get("", "remaining_points")?;
            let take = remaining.min(left);
            db.execute(stmt(
                db,
                "UPDATE points_lots SET remaining_points = remaining_points - $2 WHERE id = $1",
                vec![id.into(), take.into()],
            ))
            .await?;
            left -= take;
            if left == 0 {
                break;
            }
        }
    }
    Ok(left)
}

/// Claims a lot past its expiry: sets its remainder to 0 if it still is `remaining`.
/// False when another worker got there first.
pub async fn claim_expired_lot<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    lot_id: i64,
    remaining: i64,
) -> Result<bool, DbErr> {
    let sql = "UPDATE points_lots SET remaining_points = 0 \
               WHERE id = $1 AND tenant_id = $3 AND remaining_points = $2 AND remaining_points > 0";
    Ok(db
        .execute(stmt(
            db,
            sql,
            vec![lot_id.into(), remaining.into(), tenant.into()],
        ))
        .await?
        .rows_affected()
        == 1)
}

/// Marks an entry reversed (conditionally: an entry is reversed once).
pub async fn mark_reversed<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    entry_id: i64,
    by: i64,
) -> Result<bool, DbErr> {
    let sql = "UPDATE points_entries SET reversed_by_entry_id = $2 \
               WHERE id = $1 AND tenant_id = $3 AND reversed_by_entry_id IS NULL";
    Ok(db
        .execute(stmt(
            db,
            sql,
            vec![entry_id.into(), by.into(), tenant.into()],
        ))
        .await?
        .rows_affected()
        == 1)
}

/// One profile whose stored balances disagree with its ledger or lots.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Discrepancy {
    pub member_id: String,
    pub total_points: i64,
    pub ledger_points: i64,
    pub frozen_points: i64,
    pub ledger_frozen: i64,
    pub lots_remaining: i64,
    /// What the lots should hold: max(total, 0) + frozen.
    pub lots_expected: i64,
}

/// The profiles in `scope` whose balances differ from the sums of their ledger and
/// lots, and how many were checked. Aggregates in the database: one query.
pub async fn discrepancies<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
) -> Result<(i64, Vec<Discrepancy>), DbErr> {
    let (filter, values): (&str, Vec<Value>) = match scope {
        Scope::Tenant(t) => ("WHERE tenant_id = $1", vec![t.into()]),
        Scope::AllTenants => ("", vec![]),
    };
    let sql = format!(
        "SELECT p.member_id, p.total_points, p.frozen_points, \
           CAST(COALESCE(e.points, 0) AS BIGINT) AS ledger_points, CAST(COALESCE(e.frozen, 0) AS BIGINT) AS ledger_frozen, \
           CAST(COALESCE(l.remaining, 0) AS BIGINT) AS lots_remaining \
         FROM (SELECT * FROM points_profiles {filter}) p \
         LEFT JOIN (SELECT profile_id, SUM(points_delta) AS points, SUM(frozen_delta) AS frozen FROM points_entries GROUP BY profile_id) e ON e.profile_id = p.id \
         LEFT JOIN (SELECT profile_id, SUM(remaining_points) AS remaining FROM points_lots GROUP BY profile_id) l ON l.profile_id = p.id"
    );
    let rows = db.query_all(stmt(db, &sql, values)).await?;
    let checked = rows.len() as i64;
    let mut out = Vec::new();
    for row in rows {
        let total: i64 = row.try_get("", "total_points")?;
        let frozen: i64 = row.try_get("", "frozen_points")?;
        let d = Discrepancy {
            member_id: row.try_get("", "member_id")?,
            total_points: total,
            ledger_points: row.try_get("", "ledger_points")?,
            frozen_points: frozen,
            ledger_frozen: row.try_get("", "ledger_frozen")?,
            lots_remaining: row.try_get("", "lots_remaining")?,
            lots_expected: total.max(0) + frozen,
        };
        if d.total_points != d.ledger_points
            || d.frozen_points != d.ledger_frozen
            || d.lots_remaining != d.lots_expected
            || frozen < 0
        {
            out.push(d);
        }
    }
    Ok((checked, out))
}
