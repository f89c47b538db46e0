//! `kuaishou_orders` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kuaishou_orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub shop_id: i64,
    /// The platform's order id (kept as text: it exceeds 2^53).
    pub oid: String,
    pub status: i64,
    pub buyer_open_id: Option<String>,
    /// In fen.
    pub total_fee: i64,
    /// Epoch milliseconds.
    pub pay_time: Option<i64>,
    /// Epoch milliseconds; an older copy never overwrites a newer one.
    pub update_time: i64,
    /// The order as the platform sent it.
    pub raw: Json,
    pub synced_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
