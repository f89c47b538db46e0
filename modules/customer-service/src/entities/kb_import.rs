//! `cs_kb_imports`: an uploaded file being imported as a job, with its progress.
use sea_orm::entity::prelude::*;

use crate::service::imports::{ImportFormat, ImportStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_kb_imports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub shop_id: Option<i64>,
    pub file_name: String,
    pub format: ImportFormat,
    /// The file as uploaded (kept until the import ends, so any replica can resume it).
    pub payload: Vec<u8>,
    pub status: ImportStatus,
    pub total: i64,
    /// Rows handled so far (stored or refused): where a resumed import starts.
    pub done: i64,
    pub failed: i64,
    /// `[{line, reason}]` of refused rows (the first 1 000).
    pub errors: Json,
    /// While running: the replica working on it holds it until then.
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub created_by: String,
    pub created_at: ChronoDateTimeUtc,
    pub finished_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
