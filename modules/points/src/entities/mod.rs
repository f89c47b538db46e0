//! sea-orm entities of the points tables (schema in `migrations/`). Every row carries
//! `tenant_id`.

pub mod entry;
pub mod level;
pub mod lot;
pub mod member_vip_tag;
pub mod profile;
pub mod settings;
pub mod vip_tag;
