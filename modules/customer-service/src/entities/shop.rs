//! `cs_shops`: a seller's shop as customer service sees it — the chat window the
//! desktop agent watches, the reply rules and the routing bands.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cs_shops")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// Unique within the tenant.
    pub name: String,
    /// The title of the chat window (千牛) the agent looks for.
    pub qianniu_title: String,
    /// `[x, y, w, h]` in screen pixels: where the agent reads messages.
    pub ocr_region: Json,
    pub unread_threshold: f64,
    /// The LLM provider (a configured name, or `stub`).
    pub ai_model: String,
    pub auto_mode: bool,
    /// Rules (`docs/customer-service.md`, "Shop rules"): customer ids and keywords.
    pub blacklist: Json,
    pub whitelist: Json,
    /// `09:00-22:00` in the tenant's time zone; empty: always.
    pub business_hours: String,
    /// Seconds the agent waits before typing a reply.
    pub reply_delay: i64,
    pub kb_auto_threshold: f64,
    pub kb_assist_threshold: f64,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
