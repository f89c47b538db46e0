//! `alert_events` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub rule: String,
    pub key: String,
    pub severity: String,
    /// `firing`, `repeat`, `resolved` or `test`.
    pub status: String,
    pub message: String,
    pub details: Json,
    /// Channel → `sent` or the delivery error.
    pub deliveries: Json,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
