//! `gateway_accounts`: the accounts that log in to a platform, in rotation order;
//! `user_no`, `username` and `password` are encrypted by the kernel's vault.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gateway_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub platform_id: i64,
    pub position: i32,
    pub user_no: String,
    pub username: String,
    pub password: String,
    /// `active`, or `auth_failed` (the platform refused its password; not used again
    /// until an admin sets a new one).
    pub state: String,
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
