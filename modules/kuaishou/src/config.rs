//! Settings of the Kuaishou bridge: the `[kuaishou]` section of the config file, or the
//! variables `KUAISHOU_APP_KEY`, `KUAISHOU_APP_SECRET`, `KUAISHOU_SIGN_SECRET`,
//! `KUAISHOU_SIGN_METHOD`, `KUAISHOU_BASE_URL`, `KUAISHOU_AUTHORIZE_URL`,
//! `KUAISHOU_REDIRECT_URI`, `KUAISHOU_SCOPES`, `KUAISHOU_WEBHOOK_SECRET`,
//! `KUAISHOU_MSG_SECRET`, `KUAISHOU_REFRESH_ALERT_DAYS`, `KUAISHOU_BATCH_CONCURRENCY`.
//! A key the struct does not define is refused with its name, so a misspelt setting
//! stops the start instead of being ignored.

use secrecy::SecretString;
use serde::Deserialize;
use shopops_kernel::config::{Config, ConfigError};

use crate::client::SignMethod;

/// The config file's section.
pub const SECTION: &str = "kuaishou";
/// The prefix of the section's environment variables.
pub const ENV_PREFIX: &str = "KUAISHOU_";

fn default_sign_method() -> SignMethod {
    SignMethod::HmacSha256
}

fn default_base_url() -> String {
    "https://openapi.kwaixiaodian.com".into()
}

fn default_authorize_url() -> String {
    "https://open.kwaixiaodian.com/oauth/authorize".into()
}

fn default_scopes() -> String {
    "merchant_order,merchant_item,merchant_refund,merchant_user".into()
}

fn default_refresh_alert_days() -> i64 {
    14
}

fn default_batch_concurrency() -> usize {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KuaishouConfig {
    pub app_key: Option<String>,
    pub app_secret: Option<SecretString>,
    /// The app's signing secret (not the app secret).
    pub sign_secret: Option<SecretString>,
    #[serde(default = "default_sign_method")]
    pub sign_method: SignMethod,
    /// Open API and OAuth token endpoints.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Where sellers are sent to authorise a shop.
    #[serde(default = "default_authorize_url")]
    pub authorize_url: String,
    /// Our OAuth callback as registered with the platform
    /// (`https://<host>/api/v1/kuaishou/oauth/callback`).
    pub redirect_uri: Option<String>,
    /// Comma-separated scopes requested from sellers.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// HMAC-SHA256 secret of message-push requests (`X-Kuaishou-Signature`).
    pub webhook_secret: Option<SecretString>,
    /// The app's message secret (Base64 AES key) for encrypted push bodies.
    pub msg_secret: Option<SecretString>,
    /// Alert when a shop's refresh token expires within this many days (the seller
    /// must authorise again before then).
    #[serde(default = "default_refresh_alert_days")]
    pub refresh_alert_days: i64,
    /// Shops queried at once by a multi-shop order query.
    #[serde(default = "default_batch_concurrency")]
    pub batch_concurrency: usize,
}

impl KuaishouConfig {
    /// The section from the kernel's configuration (file, then environment), checked.
    pub fn load(config: &Config) -> Result<Self, ConfigError> {
        config.section::<Self>(SECTION, ENV_PREFIX)?.checked()
    }

    fn checked(self) -> Result<Self, ConfigError> {
        if self.refresh_alert_days < 1 {
            return Err(ConfigError::Invalid(
                "key `kuaishou.refresh_alert_days` (env KUAISHOU_REFRESH_ALERT_DAYS): at least 1"
                    .into(),
            ));
        }
        if !(1..=64).contains(&self.batch_concurrency) {
            return Err(ConfigError::Invalid(
                "key `kuaishou.batch_concurrency` (env KUAISHOU_BATCH_CONCURRENCY): between 1 and 64"
                    .into(),
            ));
        }
        Ok(self)
    }

    /// True when app key, app secret and sign secret are all set.
    pub fn is_configured(&self) -> bool {
        use secrecy::ExposeSecret;
        self.app_key.as_deref().is_some_and(|k| !k.is_empty())
            && self
                .app_secret
                .as_ref()
                .is_some_and(|s| !s.expose_secret().is_empty())
            && self
                .sign_secret
                .as_ref()
                .is_some_and(|s| !s.expose_secret().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn misspelt_keys_and_values_out_of_range_are_refused() {
        let defaults: KuaishouConfig = serde_json::from_value(json!({})).unwrap();
        assert!(!defaults.is_configured());
        assert_eq!(defaults.refresh_alert_days, 14);
        assert!(defaults.checked().is_ok());
        let typo = serde_json::from_value::<KuaishouConfig>(json!({ "app_kee": "x" }));
        assert!(typo.unwrap_err().to_string().contains("app_kee"));
        let zero: KuaishouConfig =
            serde_json::from_value(json!({ "batch_concurrency": 0 })).unwrap();
        assert!(zero.checked().is_err());
    }
}
