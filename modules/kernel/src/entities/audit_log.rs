//! `audit_logs` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// Position in the tenant chain, 1, 2, 3, … without gaps; none until the linker
    /// links the record (shortly after it commits).
    pub seq: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub summary: Json,
    pub created_at: ChronoDateTimeUtc,
    /// The previous record's hash; none until linked.
    pub prev_hash: Option<String>,
    /// This record's hash; none until linked.
    pub hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
