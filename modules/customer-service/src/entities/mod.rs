//! sea-orm entities of the customer-service tables (schema in `migrations/`).

pub mod agent;
pub mod kb_embedding;
pub mod kb_entry;
pub mod kb_import;
pub mod kb_search;
pub mod kb_version;
pub mod message;
pub mod message_event;
pub mod settings;
pub mod shop;
pub mod shop_agent;
pub mod stat_daily;
