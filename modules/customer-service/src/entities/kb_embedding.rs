//! `cs_kb_embeddings`: the embedded vector store's vectors, one per indexed text of an
//! entry, kept so a restart does not compute them again.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_kb_embeddings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: i64,
    /// 0: the question; 1…: its similar questions in order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub text_index: i64,
    pub tenant_id: i64,
    /// The encoder that made it (vectors of another encoder are not comparable).
    pub encoder: String,
    /// Little-endian `f32`s.
    pub vector: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
