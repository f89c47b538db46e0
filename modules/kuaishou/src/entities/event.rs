//! `kuaishou_events` table: message-push events, unique per message id, and their
//! dispatch to handlers.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kuaishou_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The shop's tenant; 0 when no authorised shop matches the seller.
    pub tenant_id: i64,
    pub shop_id: Option<i64>,
    #[sea_orm(unique)]
    pub message_id: String,
    pub event: String,
    pub open_id: String,
    pub payload: Json,
    pub received_at: ChronoDateTimeUtc,
    /// pending, done, failed (gave up after the last attempt) or skipped (no shop, a
    /// heartbeat).
    pub dispatch_status: String,
    pub attempts: i64,
    /// While pending: not before this (a running handler's lease, or a retry's backoff).
    pub next_attempt_at: Option<ChronoDateTimeUtc>,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
