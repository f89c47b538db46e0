//! `cs_message_events`: a message's history (received, routed, drafted, claimed,
//! approved, rejected, offered, sent …), oldest first.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_message_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub message_id: i64,
    pub kind: String,
    /// Who: a username, `system`, or an agent (`user:<id>`).
    pub actor: String,
    pub details: Json,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
