//! `kuaishou_events` table: message-push events, one copy per message id and shop that
//! holds the seller, and their dispatch to handlers.
use sea_orm::entity::prelude::*;

use crate::service::events::DispatchStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kuaishou_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The tenant of the shop this copy of the message is for.
    pub tenant_id: i64,
    pub shop_id: Option<i64>,
    pub message_id: String,
    pub event: String,
    pub open_id: String,
    pub payload: Json,
    pub received_at: ChronoDateTimeUtc,
    /// `pending`, `done`, `failed` (gave up after the last attempt) or `skipped` (a
    /// heartbeat).
    pub dispatch_status: DispatchStatus,
    pub attempts: i64,
    /// While pending: not before this (a running handler's lease, or a retry's backoff).
    pub next_attempt_at: Option<ChronoDateTimeUtc>,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
