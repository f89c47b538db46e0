//! The module's settings: a `[gateway]` section of the config file, or `GATEWAY_*`
//! variables (docs/configuration.md, "Platform gateway"). What differs per platform
//! (URLs, form, rules, intervals) is configured per platform through the API.

use std::path::PathBuf;

use serde::Deserialize;
use shopops_kernel::config::{Config, ConfigError};

pub const SECTION: &str = "gateway";
pub const ENV_PREFIX: &str = "GATEWAY_";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Where `make models` puts the local captcha model (`ddddocr/common.onnx`).
    pub models_dir: PathBuf,
    /// Timeout of one request to a platform (captcha, login, call, heartbeat).
    pub request_timeout_secs: u64,
    /// First wait after a network failure; doubled per retry (1, 2, 4 s).
    pub network_backoff_ms: u64,
    /// First wait after a 5xx; doubled per retry (5, 10, 20 s).
    pub server_error_backoff_ms: u64,
    /// How long a caller waits for another process's login before giving up.
    pub login_wait_secs: u64,
    /// Largest platform response body handed back by `POST …/request`.
    pub response_max_bytes: usize,
    /// How long a captcha waits for a person before the manual solver gives up.
    pub manual_captcha_timeout_secs: u64,
    /// First wait after a failed keepalive; doubled per failure (60·2ⁿ s).
    pub keepalive_retry_base_secs: u64,
    /// How often the keepalive job looks for sessions due a heartbeat.
    pub keepalive_tick_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("./data/models"),
            request_timeout_secs: 15,
            network_backoff_ms: 1000,
            server_error_backoff_ms: 5000,
            login_wait_secs: 30,
            response_max_bytes: 1024 * 1024,
            manual_captcha_timeout_secs: 120,
            keepalive_retry_base_secs: 60,
            keepalive_tick_secs: 10,
        }
    }
}

impl GatewayConfig {
    /// The section from the kernel's configuration (file, then environment), checked.
    pub fn load(config: &Config) -> Result<Self, ConfigError> {
        let c: Self = config.section(SECTION, ENV_PREFIX)?;
        let bad = |key: &str, why: &str| {
            Err(ConfigError::Invalid(format!(
                "key `{SECTION}.{key}` (env {ENV_PREFIX}{}): {why}",
                key.to_ascii_uppercase()
            )))
        };
        if !(1..=300).contains(&c.request_timeout_secs) {
            return bad("request_timeout_secs", "must be 1 to 300");
        }
        if !(1..=600).contains(&c.login_wait_secs) {
            return bad("login_wait_secs", "must be 1 to 600");
        }
        if !(1024..=64 * 1024 * 1024).contains(&c.response_max_bytes) {
            return bad("response_max_bytes", "must be 1 KiB to 64 MiB");
        }
        if c.manual_captcha_timeout_secs == 0 {
            return bad("manual_captcha_timeout_secs", "must be greater than 0");
        }
        if c.keepalive_retry_base_secs == 0 || c.keepalive_tick_secs == 0 {
            return bad(
                "keepalive_tick_secs",
                "and keepalive_retry_base_secs must be greater than 0",
            );
        }
        Ok(c)
    }
}
