//! `integration_sms_outbox`: every SMS, kept until it is sent or given up; the phone
//! number encrypted (the kernel's personal-data vault) with a keyed-hash index.
use sea_orm::entity::prelude::*;

use crate::service::states::{Delivery, SmsStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_sms_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    #[sea_orm(unique)]
    pub message_id: String,
    pub phone_enc: String,
    pub phone_index: String,
    /// The logical template name.
    pub template: String,
    pub params: Json,
    pub status: SmsStatus,
    pub attempts: i64,
    /// While pending: not before this (a sender's lease, or a retry's backoff).
    pub next_attempt_at: Option<ChronoDateTimeUtc>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub sent_at: Option<ChronoDateTimeUtc>,
    /// After `sent`: what the provider reported about the phone (null: no report yet).
    pub delivery: Option<Delivery>,
    /// The provider's report: its code or description, and when the phone got it.
    pub delivery_detail: Option<String>,
    pub delivery_checked_at: Option<ChronoDateTimeUtc>,
    /// When the report job next asks about it (null: not followed any more).
    pub delivery_next_check_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
