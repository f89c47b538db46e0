//! `cs_messages`: one buyer message and everything decided about it — routing, the
//! reply, its review and its delivery to the desktop agent. Its history is in
//! `cs_message_events`.
use sea_orm::entity::prelude::*;

use crate::service::states::{Delivery, MessageSource, MessageStatus, ReplySource};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub shop_id: i64,
    /// The buyer's id in the chat (a nickname): personal data, never logged.
    pub customer_id: String,
    pub content: String,
    /// SHA-256 of the normalised content: the same question re-read from the screen.
    pub content_key: String,
    pub source: MessageSource,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the canonical request body sent with `idempotency_key`.
    pub request_hash: Option<String>,
    pub received_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
    pub status: MessageStatus,
    /// Which rule decided the route (`docs/customer-service.md`, "Routing").
    pub decided_by: String,
    /// The best KB match's confidence.
    pub confidence: Option<f64>,
    /// The KB entry cited (the answer sent, or the LLM's reference).
    pub kb_entry_id: Option<i64>,
    pub reply_text: Option<String>,
    pub reply_source: Option<ReplySource>,
    /// `<provider>:<model>` of an LLM draft.
    pub reply_model: Option<String>,
    pub auto_send: bool,
    /// Why there is no draft (the LLM provider failed).
    pub draft_failure: Option<String>,
    pub claimed_by: Option<i64>,
    pub claim_until: Option<ChronoDateTimeUtc>,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<ChronoDateTimeUtc>,
    /// Approved with a changed text.
    pub edited: Option<bool>,
    pub handoff_reason: Option<String>,
    pub delivery: Delivery,
    pub ready_at: Option<ChronoDateTimeUtc>,
    /// The agent (`user:<id>` or `token:<id>`) the reply is leased to.
    pub lease_holder: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub delivery_attempts: i64,
    pub delivery_error: Option<String>,
    pub sent_at: Option<ChronoDateTimeUtc>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
