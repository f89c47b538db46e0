//! sea-orm entities of the kernel's tables (schema in `migrations/`).

pub mod alert_event;
pub mod alert_silence;
pub mod alert_state;
pub mod api_token;
pub mod audit_chain_head;
pub mod audit_log;
pub mod idempotency_key;
pub mod kernel_setting;
pub mod refresh_token;
pub mod role_permission;
pub mod tenant;
pub mod user;
pub mod user_role;
