//! `cs_kb_entries`: knowledge-base entries of a tenant (one shop's, or every shop's).
use sea_orm::entity::prelude::*;

use crate::service::kb::EntrySource;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_kb_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// None: every shop of the tenant.
    pub shop_id: Option<i64>,
    pub question: String,
    pub answer: String,
    pub category: String,
    /// `["发货", …]`.
    pub keywords: Json,
    /// Other phrasings of the question, each indexed.
    pub similar_questions: Json,
    pub enabled: bool,
    pub source: EntrySource,
    /// The import (and its line) that made it, so a resumed import stores a row once.
    pub import_id: Option<i64>,
    pub import_line: Option<i64>,
    /// The tenant's change sequence at its last write; indexes follow it.
    pub change_seq: i64,
    /// Deleted entries stay as tombstones until every index has seen them go.
    pub deleted_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
