//! `cs_statistics_daily`: a day's figures per shop, and per tenant (`shop_id` 0).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_statistics_daily")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// 0: the whole tenant.
    pub shop_id: i64,
    /// `YYYY-MM-DD` in the tenant's time zone.
    pub day: String,
    pub messages: i64,
    pub auto_sent: i64,
    pub reviewed: i64,
    pub approved_unedited: i64,
    pub approved_edited: i64,
    pub rejected: i64,
    pub kb_answered: i64,
    pub kb_hit_rate: f64,
    pub ai_accuracy: Option<f64>,
    pub median_secs: Option<f64>,
    pub p95_secs: Option<f64>,
    pub computed_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
