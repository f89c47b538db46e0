//! `gateway_captchas`: captchas waiting for a person (the manual solver).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gateway_captchas")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub label: String,
    /// Base64 of the image as the platform served it.
    pub image: String,
    pub content_type: String,
    /// `pending`, `answered` (the solver takes the answer), `used`, `expired`.
    pub status: String,
    pub answer: Option<String>,
    pub answered_by: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
