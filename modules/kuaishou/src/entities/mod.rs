//! sea-orm entities of the Kuaishou tables (schema in `migrations/`).

pub mod event;
pub mod order;
pub mod order_item;
pub mod refund;
pub mod shop;
pub mod sync_checkpoint;
