//! `points_profiles` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_profiles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// The tenant's own customer id.
    pub member_id: String,
    /// Available points.
    pub total_points: i64,
    pub frozen_points: i64,
    pub lifetime_points: i64,
    pub level_id: Option<i64>,
    pub email_enc: Option<String>,
    pub email_hash: Option<String>,
    pub phone_enc: Option<String>,
    pub phone_hash: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
