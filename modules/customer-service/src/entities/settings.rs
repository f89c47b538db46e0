//! `cs_settings`: a tenant's customer-service settings (the LLM's system prompt, the
//! time zone of business hours and statistics days).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: i64,
    /// None: the built-in default prompt.
    pub system_prompt: Option<String>,
    /// An IANA name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
