//! `integration_captcha_recognitions`: which tenant each captcha answer went to, so only
//! that tenant may report it wrong.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_captcha_recognitions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// `<provider>:<the provider's id>`, as `recognize` answered it.
    #[sea_orm(unique)]
    pub pic_id: String,
    pub provider: String,
    pub created_at: ChronoDateTimeUtc,
    /// Set once the answer was reported wrong to the provider.
    pub reported_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
