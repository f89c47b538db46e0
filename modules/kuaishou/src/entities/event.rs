//! `kuaishou_events` table: message-push events, unique per message id.
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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
