//! sea-orm entities of the Kuaishou tables (schema in `migrations/`).

pub mod event;
pub mod shop;
