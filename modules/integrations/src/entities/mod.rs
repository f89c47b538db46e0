//! sea-orm entities of the integration tables (schema in `migrations/`).

pub mod callback_event;
pub mod captcha_recognition;
pub mod payment;
pub mod provider_override;
pub mod refund;
pub mod sms_outbox;
