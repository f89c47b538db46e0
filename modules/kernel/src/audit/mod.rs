//! Append-only, hash-chained audit log.
//!
//! Every state change calls [`record`] inside the transaction that makes the change,
//! so the record and the change commit or vanish together. Records form one chain per
//! tenant (tenant 0 = platform): `hash = sha256(canonical(record, prev_hash))`, with
//! `seq` counting 1, 2, 3, …; the chain head (last seq and hash) is locked while a
//! record is appended, so concurrent writers cannot fork the chain. [`verify`] walks
//! every chain and names the first record that was edited, deleted or inserted.

pub mod api;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::entities::{audit_chain_head, audit_log};
use crate::http::RequestContext;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
}

impl Actor {
    /// Changes made by the system itself (bootstrap, command line).
    pub fn system(name: &str) -> Self {
        Self {
            id: None,
            name: name.to_string(),
        }
    }
}

/// One change to record.
pub struct Change<'a> {
    pub tenant_id: i64,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub summary: Value,
}

/// Key names whose values never reach the audit log.
const SECRET_KEYS: &[&str] = &["password", "secret", "token", "api_key", "private_key"];

/// Replaces the values of secret-looking keys, at any depth, with `[REDACTED]`.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    if SECRET_KEYS.iter().any(|s| lower.contains(s)) {
                        (k, json!("[REDACTED]"))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Appends a record to the tenant's chain. Call with the transaction of the change.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    ctx: &RequestContext,
    actor: &Actor,
    change: Change<'_>,
) -> Result<audit_log::Model, DbErr> {
    // Make sure the head row exists, then lock it (FOR UPDATE on PostgreSQL; SQLite
    // has one writer at a time) so appends to one chain are serialised.
    audit_chain_head::Entity::insert(audit_chain_head::ActiveModel {
        tenant_id: Set(change.tenant_id),
        last_seq: Set(0),
        last_hash: Set(GENESIS_HASH.to_string()),
    })
    .on_conflict(
        OnConflict::column(audit_chain_head::Column::TenantId)
            .do_nothing()
            .to_owned(),
    )
    .do_nothing()
    .exec(txn)
    .await?;
    let head = audit_chain_head::Entity::find_by_id(change.tenant_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit chain head".into()))?;

    let mut row = audit_log::Model {
        id: 0,
        tenant_id: change.tenant_id,
        seq: head.last_seq + 1,
        actor_id: actor.id,
        actor_name: actor.name.clone(),
        action: change.action.to_string(),
        target_type: change.target_type.to_string(),
        target_id: change.target_id,
        request_id: ctx.request_id.clone(),
        ip: ctx.ip.clone(),
        user_agent: ctx.user_agent.clone(),
        summary: redact(change.summary),
        created_at: now_micros(),
        prev_hash: head.last_hash.clone(),
        hash: String::new(),
    };
    row.hash = compute_hash(&row);

    let mut active: audit_log::ActiveModel = row.clone().into();
    active.id = sea_orm::ActiveValue::NotSet;
    let saved = active.insert(txn).await?;

    audit_chain_head::Entity::update_many()
        .col_expr(
            audit_chain_head::Column::LastSeq,
            sea_orm::sea_query::Expr::value(row.seq),
        )
        .col_expr(
            audit_chain_head::Column::LastHash,
            sea_orm::sea_query::Expr::value(row.hash.clone()),
        )
        .filter(audit_chain_head::Column::TenantId.eq(change.tenant_id))
        .exec(txn)
        .await?;
    Ok(saved)
}

/// Timestamps are hashed as stored; PostgreSQL keeps microseconds, so we do too.
fn now_micros() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The hash over every field of a record but its id and its own hash, as a JSON array
/// (no delimiter ambiguity), in canonical form (object keys of `summary` sorted).
pub fn compute_hash(row: &audit_log::Model) -> String {
    let canonical = json!([
        row.prev_hash,
        row.tenant_id,
        row.seq,
        row.actor_id,
        row.actor_name,
        row.action,
        row.target_type,
        row.target_id,
        row.request_id,
        row.ip,
        row.user_agent,
        row.summary,
        row.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    ]);
    hex::encode(Sha256::digest(
        crate::canonical::to_string(&canonical).as_bytes(),
    ))
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
    pub records: u64,
    pub broken: Option<BrokenLink>,
}

/// Walks every tenant chain in order and stops at the first broken link.
pub async fn verify<C: ConnectionTrait>(db: &C) -> Result<VerifyReport, DbErr> {
    const BATCH: u64 = 1000;
    let heads = audit_chain_head::Entity::find()
        .order_by_asc(audit_chain_head::Column::TenantId)
        .all(db)
        .await?;
    let mut report = VerifyReport {
        chains: heads.len(),
        records: 0,
        broken: None,
    };
    for head in heads {
        let tenant_id = head.tenant_id;
        let mut expected_seq = 1;
        let mut prev_hash = GENESIS_HASH.to_string();
        let broken = |seq: i64, record_id: Option<i64>, reason: String| BrokenLink {
            tenant_id,
            seq,
            record_id,
            reason,
        };
        loop {
            let rows = audit_log::Entity::find()
                .filter(audit_log::Column::TenantId.eq(tenant_id))
                .filter(audit_log::Column::Seq.gte(expected_seq))
                .order_by_asc(audit_log::Column::Seq)
                .limit(BATCH)
                .all(db)
                .await?;
            let fetched = rows.len() as u64;
            for row in rows {
                let found = if row.seq != expected_seq {
                    Some(broken(
                        expected_seq,
                        None,
                        format!("record {expected_seq} is missing (next is {})", row.seq),
                    ))
                } else if row.prev_hash != prev_hash {
                    Some(broken(
                        row.seq,
                        Some(row.id),
                        "prev_hash does not match the previous record".into(),
                    ))
                } else if compute_hash(&row) != row.hash {
                    Some(broken(
                        row.seq,
                        Some(row.id),
                        "record content does not match its hash (edited)".into(),
                    ))
                } else {
                    None
                };
                if let Some(link) = found {
                    report.broken = Some(link);
                    return Ok(report);
                }
                report.records += 1;
                prev_hash = row.hash;
                expected_seq += 1;
            }
            if fetched < BATCH {
                break;
            }
        }
        let last_seq = expected_seq - 1;
        if last_seq != head.last_seq || prev_hash != head.last_hash {
            report.broken = Some(broken(
                last_seq + 1,
                None,
                format!(
                    "chain ends at record {last_seq} but its head says {} (records deleted at the end)",
                    head.last_seq
                ),
            ));
            return Ok(report);
        }
    }
    Ok(report)
}
