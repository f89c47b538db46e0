//! The kernel context every module receives: configuration, database, cache, RBAC and
//! token keys, built once at start.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use crate::alerting::Alerting;
use crate::auth::tokens::{random_token, AccessClaims, AccessError, TokenKeys};
use crate::cache::CacheHandle;
use crate::config::Config;
use crate::db;
use crate::http::rate_limit::RateLimiter;
use crate::module::Declarations;
use crate::outside::{OutsideCalls, TargetConfig};
use crate::rbac::Rbac;
use crate::telemetry::metrics::Metrics;

#[derive(Clone)]
pub struct Kernel {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub cache: CacheHandle,
    /// Leases and locks shared by every process on the same Redis (in-process without).
    pub leases: Arc<crate::lease::Leases>,
    /// Captcha solvers modules register (others ask for them by name).
    pub captcha: Arc<crate::captcha::CaptchaSolvers>,
    pub rbac: Rbac,
    pub tokens: Arc<TokenKeys>,
    pub metrics: Arc<Metrics>,
    pub outside: Arc<OutsideCalls>,
    pub rate_limits: Arc<RateLimiter>,
    pub alerting: Arc<Alerting>,
    /// Encryption and keyed hashes for personal data at rest.
    pub pii: Arc<crate::crypto::PiiVault>,
    /// Informational checks modules register (shown in `/readyz` details).
    pub health: Arc<crate::health::HealthRegistry>,
    pub lifecycle: Lifecycle,
    /// What the kernel and the modules declare (permissions, buckets, error codes).
    pub declarations: Arc<Declarations>,
}

/// Whether the process is draining for shutdown (readiness reports 503 then).
#[derive(Clone, Default)]
pub struct Lifecycle {
    draining: Arc<std::sync::atomic::AtomicBool>,
    stop: tokio_util::sync::CancellationToken,
}

impl Lifecycle {
    pub fn begin_drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Tells background jobs to stop at their next safe point.
    pub fn stop_jobs(&self) {
        self.stop.cancel();
    }

    /// Resolves when jobs should stop.
    pub fn stopped(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }
}

impl Kernel {
    /// Builds the context on a migrated database: checks the declarations, makes the
    /// grants table match the declared permissions, loads RBAC.
    pub async fn build(
        config: Config,
        db: DatabaseConnection,
        declarations: &Declarations,
    ) -> anyhow::Result<Self> {
        declarations.check().map_err(anyhow::Error::msg)?;
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
        crate::rbac::sync_grants(&db, &declarations.grants()).await?;
        let rbac = Rbac::load(&db).await?;
        let metrics = Arc::new(Metrics::new());
        let outside = Arc::new(OutsideCalls::new(
            TargetConfig::from_config(&config),
            metrics.clone(),
        ));
        let rate_limits = Arc::new(
            RateLimiter::new(
                &config,
                &declarations.rate_buckets,
                cache.cache.clone(),
                metrics.clone(),
            )
            .map_err(anyhow::Error::msg)?,
        );
        let alerting =
            Arc::new(crate::alerting::build(&config, outside.clone()).map_err(anyhow::Error::msg)?);
        let pii = Arc::new(crate::crypto::PiiVault::load(&config, &db).await?);
        let leases = Arc::new(crate::lease::Leases::new(&cache));
        Ok(Self {
            leases,
            captcha: Arc::default(),
            health: Arc::default(),
            pii,
            alerting,
            rate_limits,
            config: Arc::new(config),
            db,
            cache,
            rbac,
            tokens: Arc::new(tokens),
            metrics,
            outside,
            lifecycle: Lifecycle::default(),
            declarations: Arc::new(declarations.clone()),
        })
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.config.access_token_ttl_secs)
    }

    /// Checks an access token's signature, type and expiry, counted by outcome in
    /// `access_token_verifications_total`. A request's token is verified once: the
    /// rate limiter does it and leaves the claims for the principal extractor.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, AccessError> {
        let verified = self.tokens.verify(token);
        let outcome = match &verified {
            Ok(_) => "valid",
            Err(AccessError::Expired { .. }) => "expired",
            Err(AccessError::Invalid(_)) => "invalid",
        };
        self.metrics
            .access_verifications
            .with_label_values(&[outcome])
            .inc();
        verified
    }
}
