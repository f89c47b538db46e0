//! `alert_states` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_states")]
pub struct Model {
    /// Rule plus subject, e.g. `outside_success_rate:<target>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub rule: String,
    pub severity: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub message: String,
    pub first_seen_at: ChronoDateTimeUtc,
    pub last_notified_at: ChronoDateTimeUtc,
    pub resolved_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
