//! `gateway_platforms`: a tenant's platform; `settings` holds its validated
//! [`crate::service::platforms::PlatformSettings`].
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gateway_platforms")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub enabled: bool,
    pub settings: Json,
    /// Keepalive failures in a row (the next attempt waits 60·2ⁿ s).
    pub keepalive_failures: i32,
    pub keepalive_next_at: Option<ChronoDateTimeUtc>,
    pub last_keepalive_at: Option<ChronoDateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
