//! `kuaishou_shops` table: shops sellers authorised, with their tokens encrypted.
use sea_orm::entity::prelude::*;

use crate::service::shops::ShopStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kuaishou_shops")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// The seller's id on the platform.
    pub open_id: String,
    /// `active`, `refresh_failed` or `revoked`.
    pub status: ShopStatus,
    /// Encrypted with the kernel's personal-data vault.
    pub access_token_enc: Option<String>,
    pub refresh_token_enc: Option<String>,
    pub access_expires_at: Option<ChronoDateTimeUtc>,
    pub refresh_expires_at: Option<ChronoDateTimeUtc>,
    pub scopes: Json,
    /// Held while one replica refreshes the tokens.
    pub refresh_lock_until: Option<ChronoDateTimeUtc>,
    pub last_refreshed_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
