//! `vip_tags` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vip_tags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// A member holds at most one tag of a type.
    pub tag_type: String,
    pub tag_name: String,
    /// Higher outranks lower within a type.
    pub rank: i32,
    /// Default validity of a grant; none = no expiry.
    pub duration_days: Option<i32>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
