//! `kuaishou_refunds` table: refunds (after-sales orders) fetched from the platform.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kuaishou_refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub shop_id: i64,
    /// The platform's ids, kept as text (they exceed 2^53).
    pub refund_id: String,
    pub order_id: String,
    pub status: i64,
    pub handling_way: Option<i64>,
    /// In fen.
    pub refund_fee: Option<i64>,
    /// Epoch milliseconds; an older copy never overwrites a newer one.
    pub update_time: i64,
    pub raw: Json,
    pub synced_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
