//! `integration_provider_overrides`: operational settings changed through the API
//! (enabled, priority, SMS limits), applied over the file on every replica.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_provider_overrides")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub capability: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub enabled: Option<bool>,
    pub priority: Option<i64>,
    pub per_minute: Option<i64>,
    pub per_day: Option<i64>,
    pub updated_by: String,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
