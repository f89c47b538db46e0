//! `points_entries` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub profile_id: i64,
    pub member_id: String,
    /// What the entry did: an [`EntryType`](crate::service::domain::EntryType) name.
    pub entry_type: String,
    /// Change of available points.
    pub points_delta: i64,
    /// Change of frozen points.
    pub frozen_delta: i64,
    /// Available points after this entry.
    pub balance_after: i64,
    pub category: String,
    pub reason: String,
    pub operator_id: Option<i64>,
    pub operator_name: String,
    pub request_id: String,
    pub idempotency_key: Option<String>,
    pub reverses_entry_id: Option<i64>,
    pub reversed_by_entry_id: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
