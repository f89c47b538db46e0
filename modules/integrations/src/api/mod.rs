//! `/api/v1/integrations`: HTTP handlers only — extract, authorise, call the service.

pub mod callbacks;
pub mod captcha;
pub mod payments;
pub mod providers;
pub mod sms;
pub mod storage;

use std::sync::Arc;

use serde::Deserialize;
use utoipa::IntoParams;

use crate::manager::Manager;

/// `?refresh=true` on a read of something a provider holds.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Ask the provider first (and record what changed).
    #[serde(default)]
    pub refresh: bool,
}

/// What the handlers share: the manager, and the key that signs local-store URLs.
pub struct State {
    pub manager: Arc<Manager>,
    pub url_key: Vec<u8>,
}
