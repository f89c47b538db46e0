//! `integration_callback_events`: provider notifications, stored once per provider
//! event (`event_key`), so a replay has no second effect.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_callback_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider: String,
    /// `provider:kind:provider's id` (transaction id, refund id, notify id).
    #[sea_orm(unique)]
    pub event_key: String,
    pub tenant_id: i64,
    pub payment_id: Option<i64>,
    /// payment or refund.
    pub kind: String,
    /// The verified (and decrypted) notification.
    pub payload: Json,
    pub received_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
