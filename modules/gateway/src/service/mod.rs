//! The gateway's behaviour, independent of HTTP (docs/gateway.md):
//! [`platforms`] settings and their checks; [`session`] the shared session and the
//! account pool in the cache; [`login`] the captcha login, one at a time across
//! processes; [`calls`] calls through the session with the retry table;
//! [`solving`] the solvers in a platform's order and the manual queue;
//! [`keepalive`] the heartbeat job; [`http`] requests to platforms and cookies.

pub mod calls;
pub mod http;
pub mod keepalive;
pub mod login;
pub mod platforms;
pub mod session;
pub mod solving;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use shopops_kernel::{AppError, AppResult, Kernel};

use crate::config::GatewayConfig;
use crate::error::Code;
use crate::metrics::GatewayMetrics;
use crate::store;
use platforms::PlatformSettings;

/// What the module's handlers and jobs share.
pub struct Gateway {
    pub config: GatewayConfig,
    /// One client for every platform: no redirects followed (a redirect to the login
    /// page is how many platforms say "expired"), no cookie store (cookies belong to
    /// the shared session, not to this process).
    pub http: reqwest::Client,
    pub metrics: Arc<GatewayMetrics>,
}

impl Gateway {
    pub fn new(config: GatewayConfig, metrics: Arc<GatewayMetrics>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .connect_timeout(Duration::from_secs(config.request_timeout_secs.min(10)))
            .user_agent(concat!("ShopOps-Gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            config,
            http,
            metrics,
        })
    }
}

/// An account, decrypted for a login.
pub struct Account {
    pub id: i64,
    pub user_no: String,
    pub username: String,
    pub password: SecretString,
    pub refused: bool,
}

/// A platform with its checked settings and accounts, ready to use.
pub struct Platform {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub settings: PlatformSettings,
    pub accounts: Vec<Account>,
    /// Cache key prefix (`gateway:{tenant}:{name}:` by default).
    pub prefix: String,
}

impl Platform {
    /// The tenant's enabled platform `id` with its accounts; 404 for another tenant's.
    pub async fn load(kernel: &Kernel, tenant: i64, id: i64) -> AppResult<Self> {
        let row = store::platform(&kernel.db, tenant, id)
            .await?
            .ok_or_else(|| AppError::not_found("platform"))?;
        if !row.enabled {
            return Err(Code::ConfigurationError
                .err()
                .with_details(serde_json::json!({
                    "platform": row.name, "reason": "the platform is disabled"
                })));
        }
        Self::from_row(kernel, row).await
    }

    pub async fn from_row(
        kernel: &Kernel,
        row: crate::entities::platform::Model,
    ) -> AppResult<Self> {
        let settings = platforms::settings_of(&row.settings)?;
        let decrypt = |v: &str| kernel.pii.decrypt(v).map_err(AppError::internal);
        let mut accounts = Vec::new();
        for a in store::accounts(&kernel.db, row.tenant_id, row.id).await? {
            accounts.push(Account {
                id: a.id,
                user_no: decrypt(&a.user_no)?,
                username: decrypt(&a.username)?,
                password: SecretString::from(decrypt(&a.password)?),
                refused: a.state == "auth_failed",
            });
        }
        Ok(Self {
            prefix: platforms::key_prefix(row.tenant_id, &row.name, &settings),
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            settings,
            accounts,
        })
    }

    /// `base_url` joined with a path (and query) under it.
    pub fn url(&self, path: &str) -> AppResult<url::Url> {
        let base = self.settings.base_url.trim_end_matches('/');
        let joined = format!("{base}{path}");
        let parsed = url::Url::parse(&joined).map_err(|_| self.outside_base(path))?;
        let origin = url::Url::parse(base).map_err(AppError::internal)?;
        // `/..` and friends cannot leave the platform: same origin, same path prefix.
        if parsed.origin() != origin.origin()
            || !parsed
                .path()
                .starts_with(origin.path().trim_end_matches('/'))
        {
            return Err(self.outside_base(path));
        }
        Ok(parsed)
    }

    fn outside_base(&self, path: &str) -> AppError {
        Code::ConfigurationError.err().with_details(serde_json::json!({
            "platform": self.name, "reason": format!("`{path}` is not a path under the platform's base_url")
        }))
    }
}
