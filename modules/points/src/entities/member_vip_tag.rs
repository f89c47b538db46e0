//! `member_vip_tags` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_vip_tags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub profile_id: i64,
    pub tag_id: i64,
    pub tag_type: String,
    pub granted_at: ChronoDateTimeUtc,
    pub expires_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::vip_tag::Entity",
        from = "Column::TagId",
        to = "super::vip_tag::Column::Id"
    )]
    VipTag,
}

impl Related<super::vip_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::VipTag.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
