//! Append-only, hash-chained audit log.
//!
//! Every state change calls [`record`] inside the transaction that makes the change,
//! so the record and the change commit or vanish together. Records form one chain per
//! tenant (tenant 0 = platform): `hash = sha256(canonical(record, prev_hash))`, with
//! `seq` counting 1, 2, 3, …. A record is inserted unlinked; one linker per cluster
//! ([`chain::link_pending`], the `audit_link` job) links the committed records into
//! their chain shortly after, so writers of one tenant never wait for each other on the
//! chain (docs/ARCHITECTURE.md "Audit in the same transaction, linked after").
//! [`chain::verify`] walks every chain, names the first record that was edited, deleted
//! or inserted, and reports records left unlinked too long.

pub mod api;
pub mod chain;

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::entities::audit_log;
use crate::http::RequestContext;

pub use chain::{link_pending, verify, BrokenLink, VerifyReport};

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

/// Records a change, unlinked; the linker adds it to the tenant's chain once it has
/// committed. Call with the transaction of the change.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    ctx: &RequestContext,
    actor: &Actor,
    change: Change<'_>,
) -> Result<audit_log::Model, DbErr> {
    audit_log::ActiveModel {
        tenant_id: Set(change.tenant_id),
        seq: Set(None),
        actor_id: Set(actor.id),
        actor_name: Set(actor.name.clone()),
        action: Set(change.action.to_string()),
        target_type: Set(change.target_type.to_string()),
        target_id: Set(change.target_id),
        request_id: Set(ctx.request_id.clone()),
        ip: Set(ctx.ip.clone()),
        user_agent: Set(ctx.user_agent.clone()),
        summary: Set(redact(change.summary)),
        created_at: Set(now_micros()),
        prev_hash: Set(None),
        hash: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await
}

/// Timestamps are hashed as stored; PostgreSQL keeps microseconds, so we do too.
fn now_micros() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The hash of a record at position `seq` after `prev_hash`: over every field but its
/// id and its own hash, as a JSON array (no delimiter ambiguity), in canonical form
/// (object keys of `summary` sorted).
pub fn compute_hash(row: &audit_log::Model, seq: i64, prev_hash: &str) -> String {
    let canonical = json!([
        prev_hash,
        row.tenant_id,
        seq,
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
