//! The tenant chains: linking committed records into them, and checking them.
//!
//! Records are inserted unlinked (no `seq`, `prev_hash`, `hash`) by the writing
//! transaction. [`link_pending`] — the `audit_link` job, one leader in the cluster,
//! every [`LINK_INTERVAL`] — takes each tenant's committed unlinked records in id
//! order, gives them the next positions of the chain and their hashes, and moves the
//! chain head, in one transaction per batch that holds the head row locked. Only the
//! linker ever locks the head, so writers never wait for one another on the chain.
//! Two linkers at once (a lease that lapsed mid-run) cannot fork a chain: the second
//! waits for the head lock and then sees the records the first linked.

use std::time::Duration;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, TransactionTrait, Value,
};
use serde::Serialize;

use super::{compute_hash, GENESIS_HASH};
use crate::entities::{audit_chain_head, audit_log};

/// How often the linker looks for committed unlinked records.
pub const LINK_INTERVAL: Duration = Duration::from_millis(250);

/// Records linked per transaction: bounds the head lock's hold and the statement size
/// (4 parameters each, far below either backend's limit).
const LINK_BATCH: u64 = 1000;

/// How long a record may wait to be linked before `verify` calls it an error, unless
/// the caller says otherwise (`shopops audit verify --max-unlinked-secs`).
pub const DEFAULT_MAX_UNLINKED: Duration = Duration::from_secs(5);

/// Links every committed unlinked record into its tenant's chain; how many it linked.
pub async fn link_pending<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<u64, DbErr> {
    let tenants: Vec<i64> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::TenantId)
        .filter(audit_log::Column::Seq.is_null())
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut linked = 0;
    for tenant in tenants {
        loop {
            let n = link_batch(db, tenant).await?;
            linked += n;
            if n < LINK_BATCH {
                break;
            }
        }
    }
    Ok(linked)
}

/// Links up to [`LINK_BATCH`] of the tenant's oldest unlinked records.
async fn link_batch<C: TransactionTrait>(db: &C, tenant: i64) -> Result<u64, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    // Make sure the head row exists, then lock it (FOR UPDATE on PostgreSQL; SQLite
    // holds the write lock from `begin_write` on).
    audit_chain_head::Entity::insert(audit_chain_head::ActiveModel {
        tenant_id: Set(tenant),
        last_seq: Set(0),
        last_hash: Set(GENESIS_HASH.to_string()),
    })
    .on_conflict(
        OnConflict::column(audit_chain_head::Column::TenantId)
            .do_nothing()
            .to_owned(),
    )
    .do_nothing()
    .exec(&txn)
    .await?;
    let head = audit_chain_head::Entity::find_by_id(tenant)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit chain head".into()))?;
    // Read after the lock: a linker that held it before us has committed its links.
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant))
        .filter(audit_log::Column::Seq.is_null())
        .order_by_asc(audit_log::Column::Id)
        .limit(LINK_BATCH)
        .all(&txn)
        .await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let (mut seq, mut prev_hash) = (head.last_seq, head.last_hash);
    let mut links = Vec::with_capacity(rows.len());
    for row in &rows {
        seq += 1;
        let hash = compute_hash(row, seq, &prev_hash);
        links.push((
            row.id,
            seq,
            std::mem::replace(&mut prev_hash, hash.clone()),
            hash,
        ));
    }
    write_links(&txn, &links).await?;
    audit_chain_head::Entity::update_many()
        .col_expr(audit_chain_head::Column::LastSeq, Expr::value(seq))
        .col_expr(audit_chain_head::Column::LastHash, Expr::value(prev_hash))
        .filter(audit_chain_head::Column::TenantId.eq(tenant))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(links.len() as u64)
}

/// Writes `(id, seq, prev_hash, hash)` of a batch in one statement. Hand-written SQL:
/// sea-query has no portable UPDATE … FROM a list of values, and one statement per
/// record would cost the database a round trip per write again.
async fn write_links<C: ConnectionTrait>(
    txn: &C,
    links: &[(i64, i64, String, String)],
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(links.len() * 4);
    let mut rows = Vec::with_capacity(links.len());
    for (id, seq, prev_hash, hash) in links {
        let at = values.len();
        let p = |n: usize| match backend {
            DbBackend::Postgres => format!("${}", at + n),
            _ => "?".to_string(),
        };
        rows.push(format!(
            "(CAST({} AS BIGINT), CAST({} AS BIGINT), {}, {})",
            p(1),
            p(2),
            p(3),
            p(4)
        ));
        values.extend([
            (*id).into(),
            (*seq).into(),
            prev_hash.clone().into(),
            hash.clone().into(),
        ]);
    }
    let sql = format!(
        "WITH links (id, seq, prev_hash, hash) AS (VALUES {}) \
         UPDATE audit_logs SET seq = links.seq, prev_hash = links.prev_hash, hash = links.hash \
         FROM links WHERE audit_logs.id = links.id AND audit_logs.seq IS NULL",
        rows.join(", ")
    );
    let done = txn
        .execute(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    if done.rows_affected() != links.len() as u64 {
        // Under the head lock nobody else links these rows: a count that differs means
        // the table changed under us; roll back rather than write a chain with holes.
        return Err(DbErr::Custom(format!(
            "audit link: {} of {} records updated",
            done.rows_affected(),
            links.len()
        )));
    }
    Ok(())
}

/// The first break found in a chain.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenLink {
    pub tenant_id: i64,
    /// The sequence number where the chain stops holding.
    pub seq: i64,
    /// The record at that position, when one is there.
    pub record_id: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub chains: usize,
    /// Linked records checked.
    pub records: u64,
    /// Committed records not linked yet (the linker runs every 250 ms).
    pub unlinked: u64,
    pub broken: Option<BrokenLink>,
}

/// Walks every tenant chain in order and stops at the first broken link; then reports
/// a record that has waited longer than `max_unlinked` to be linked as broken too
/// (the linker is not running, or cannot keep up).
pub async fn verify<C: ConnectionTrait>(
    db: &C,
    max_unlinked: Duration,
) -> Result<VerifyReport, DbErr> {
    let heads = audit_chain_head::Entity::find()
        .order_by_asc(audit_chain_head::Column::TenantId)
        .all(db)
        .await?;
    let unlinked = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.is_null())
        .count(db)
        .await?;
    let mut report = VerifyReport {
        chains: heads.len(),
        records: 0,
        unlinked,
        broken: None,
    };
    for head in heads {
        if let Some(link) = verify_chain(db, &head, &mut report.records).await? {
            report.broken = Some(link);
            return Ok(report);
        }
    }
    if unlinked > 0 {
        report.broken = overdue(db, unlinked, max_unlinked).await?;
    }
    Ok(report)
}

/// Checks one tenant's chain from its first record to its head (as read before: on a
/// live system the linker may extend the chain meanwhile).
async fn verify_chain<C: ConnectionTrait>(
    db: &C,
    head: &audit_chain_head::Model,
    records: &mut u64,
) -> Result<Option<BrokenLink>, DbErr> {
    const BATCH: u64 = 1000;
    let tenant_id = head.tenant_id;
    let broken = |seq: i64, record_id: Option<i64>, reason: String| {
        Some(BrokenLink {
            tenant_id,
            seq,
            record_id,
            reason,
        })
    };
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_string();
    loop {
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::Seq.gte(expected_seq))
            .filter(audit_log::Column::Seq.lte(head.last_seq))
            .order_by_asc(audit_log::Column::Seq)
            .limit(BATCH)
            .all(db)
            .await?;
        let fetched = rows.len() as u64;
        for row in rows {
            let seq = row.seq.unwrap_or_default();
            if seq != expected_seq {
                let reason = format!("record {expected_seq} is missing (next is {seq})");
                return Ok(broken(expected_seq, None, reason));
            }
            if row.prev_hash.as_deref() != Some(prev_hash.as_str()) {
                let reason = "prev_hash does not match the previous record".into();
                return Ok(broken(seq, Some(row.id), reason));
            }
            let hash = compute_hash(&row, seq, &prev_hash);
            if row.hash.as_deref() != Some(hash.as_str()) {
                let reason = "record content does not match its hash (edited)".into();
                return Ok(broken(seq, Some(row.id), reason));
            }
            *records += 1;
            prev_hash = hash;
            expected_seq += 1;
        }
        if fetched < BATCH {
            break;
        }
    }
    let last_seq = expected_seq - 1;
    if last_seq != head.last_seq || prev_hash != head.last_hash {
        let reason = format!(
            "chain ends at record {last_seq} but its head says {} (records deleted at the end)",
            head.last_seq
        );
        return Ok(broken(last_seq + 1, None, reason));
    }
    Ok(None)
}

/// The oldest unlinked record, when it has waited longer than `max_unlinked`.
async fn overdue<C: ConnectionTrait>(
    db: &C,
    unlinked: u64,
    max_unlinked: Duration,
) -> Result<Option<BrokenLink>, DbErr> {
    let oldest = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.is_null())
        .order_by_asc(audit_log::Column::Id)
        .one(db)
        .await?;
    let Some(oldest) = oldest else {
        return Ok(None); // all linked meanwhile
    };
    let waited = (chrono::Utc::now() - oldest.created_at)
        .to_std()
        .unwrap_or_default();
    if waited <= max_unlinked {
        return Ok(None);
    }
    let head = audit_chain_head::Entity::find_by_id(oldest.tenant_id)
        .one(db)
        .await?;
    Ok(Some(BrokenLink {
        tenant_id: oldest.tenant_id,
        seq: head.map_or(0, |h| h.last_seq) + 1,
        record_id: Some(oldest.id),
        reason: format!(
            "{unlinked} records are not linked into their chain; the oldest has waited {} s \
             (more than {} s): the audit_link job is not running (servers with \
             SHOPOPS_JOBS=off and no keepalive worker?) or cannot keep up",
            waited.as_secs(),
            max_unlinked.as_secs()
        ),
    }))
}
