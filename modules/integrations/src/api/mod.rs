//! `/api/v1/integrations`: HTTP handlers only — extract, authorise, call the service.

pub mod callbacks;
pub mod captcha;
pub mod payments;
pub mod providers;
pub mod sms;
pub mod storage;

use std::sync::Arc;

use crate::manager::Manager;

/// What the handlers share: the manager, and the key that signs local-store URLs.
pub struct State {
    pub manager: Arc<Manager>,
    pub url_key: Vec<u8>,
}
