//! The kernel context every module receives: configuration, database, cache, RBAC and
//! token keys, built once at start.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use crate::auth::tokens::{random_token, TokenKeys};
use crate::cache::CacheHandle;
use crate::config::Config;
use crate::db;
use crate::rbac::Rbac;

#[derive(Clone)]
pub struct Kernel {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub cache: CacheHandle,
    pub rbac: Rbac,
    pub tokens: Arc<TokenKeys>,
}

impl Kernel {
    /// Builds the context on a migrated database.
    pub async fn build(config: Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        let cache = match config.redis_url() {
            Some(url) => CacheHandle::redis(url, &config.redis_prefix)?,
            None => CacheHandle::memory(),
        };
        let secret = match config.jwt_secret.as_ref().map(|s| s.expose_secret()) {
            Some(s) if !s.is_empty() => s.to_string(),
            // Generated once and kept in the database, so restarts and replicas agree.
            _ => db::get_or_init_setting(&db, "jwt_secret", &random_token()).await?,
        };
        let tokens = TokenKeys::new(secret.as_bytes(), config.access_token_ttl_secs as i64);
        let rbac = Rbac::load(&db).await?;
        Ok(Self {
            config: Arc::new(config),
            db,
            cache,
            rbac,
            tokens: Arc::new(tokens),
        })
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.config.access_token_ttl_secs)
    }
}
