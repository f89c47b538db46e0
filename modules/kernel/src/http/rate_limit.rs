//! Rate limits: per client IP for anonymous calls (sign-in counted apart), per user (or
//! API token) for authenticated ones, and named buckets a module applies to its own routes
//! (`points_operations`). Counted in fixed one-hour windows through the [`Cache`]:
//! in Redis when configured, so every replica shares one count; in-process otherwise.
//!
//! Written on the cache rather than with `governor`: governor keeps its state in
//! process memory and cannot share a limit across replicas; the fixed-window counter
//! (INCR + EXPIRE) is the standard Redis pattern and one code path serves both backends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use serde_json::json;

use crate::auth::tokens::{sha256_hex, VerifiedAccess, API_TOKEN_PREFIX};
use crate::auth::Principal;
use crate::cache::Cache;
use crate::config::Config;
use crate::context::Kernel;
use crate::error::{AppError, AppResult, Code};
use crate::module::RateBucket;
use crate::telemetry::metrics::Metrics;

const WINDOW: Duration = Duration::from_secs(3600);
/// Paths never limited: probes and metrics must answer whatever the traffic, and the
/// API docs (static pages and the spec, cheap to serve) must never use up a client's
/// allowance — a few page loads would otherwise lock it out of signing in.
const EXEMPT: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"];
/// Exempt path prefixes (the docs page's assets).
const EXEMPT_PREFIXES: &[&str] = &["/docs/"];
/// Anonymous paths with an allowance of their own ([`Config::rate_limit_login_per_hour`]).
const SIGN_IN: &[&str] = &["/api/v1/auth/login", "/api/v1/auth/refresh"];

fn exempt(path: &str) -> bool {
    EXEMPT.contains(&path) || EXEMPT_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Where a caller stands in its window.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

pub struct RateLimiter {
    enabled: bool,
    anonymous: u32,
    login: u32,
    user: u32,
    buckets: HashMap<String, u32>,
    cache: Arc<dyn Cache>,
    metrics: Arc<Metrics>,
}

impl RateLimiter {
    /// The limits of the configuration, with the modules' `declared` buckets at their
    /// default limits unless `rate_limit_buckets` changes them. A configured bucket that
    /// no module declares is an error: its limit would limit nothing.
    pub fn new(
        config: &Config,
        declared: &[&'static RateBucket],
        cache: Arc<dyn Cache>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let mut buckets: HashMap<String, u32> = declared
            .iter()
            .map(|b| (b.name.to_string(), b.per_hour))
            .collect();
        for (name, limit) in config.rate_limit_bucket_limits()? {
            match buckets.get_mut(&name) {
                Some(current) => *current = limit,
                None => {
                    let mut known: Vec<_> = buckets.keys().cloned().collect();
                    known.sort();
                    return Err(format!(
                        "key `rate_limit_buckets` (env SHOPOPS_RATE_LIMIT_BUCKETS): no module declares the bucket `{name}` (declared: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(Self {
            enabled: config.rate_limit_enabled,
            anonymous: config.rate_limit_anonymous_per_hour,
            login: config.rate_limit_login_per_hour,
            user: config.rate_limit_user_per_hour,
            buckets,
            cache,
            metrics,
        })
    }

    /// Counts one call of `subject` against `limit`; 429 `RATE_LIMIT_EXCEEDED` past it.
    /// When the cache is unreachable the call is let through (and logged): readiness
    /// already reports the outage, and refusing all traffic would turn it into one.
    pub async fn hit(&self, kind: &str, subject: &str, limit: u32) -> AppResult<Option<Quota>> {
        if !self.enabled {
            return Ok(None);
        }
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let window = WINDOW.as_secs();
        let reset_secs = window - now % window;
        let key = format!("ratelimit:{kind}:{subject}:{}", now / window);
        let count = match self
            .cache
            .incr(&key, Duration::from_secs(reset_secs + 1))
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "rate limit not counted: cache unavailable");
                return Ok(None);
            }
        };
        let remaining = (limit as i64 - count).max(0) as u32;
        if count > limit as i64 {
            self.metrics.rate_limited.with_label_values(&[kind]).inc();
            return Err(Code::RateLimitExceeded.err().with_details(json!({
                "limit": limit,
                "window_secs": window,
                "scope": kind,
                "retry_after": reset_secs,
            })));
        }
        Ok(Some(Quota {
            limit,
            remaining,
            reset_secs,
        }))
    }

    /// A module's named bucket (e.g. `points_operations`) for the calling user. A
    /// bucket no module declared is a fault (500), never a call let through unlimited.
    pub async fn bucket(&self, bucket: &RateBucket, principal: &Principal) -> AppResult<()> {
        let Some(limit) = self.buckets.get(bucket.name).copied() else {
            return Err(AppError::internal(format!(
                "rate bucket `{}` is used but no module declares it",
                bucket.name
            )));
        };
        let subject = format!("{}:{}", principal.tenant_id, principal.user_id);
        self.hit(bucket.name, &subject, limit).await.map(|_| ())
    }
}

/// Who is calling, for the global limits: a verified user or token, else the IP.
fn subject(kernel: &Kernel, req: &ServiceRequest) -> (&'static str, String, u32) {
    let limiter = &kernel.rate_limits;
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = bearer {
        if token.starts_with(API_TOKEN_PREFIX) {
            // Hash, not the token: keys must not hold secrets.
            return (
                "user",
                format!("token:{}", &sha256_hex(token)[..24]),
                limiter.user,
            );
        }
        if let Ok(claims) = kernel.verify_access(token) {
            let who = format!("user:{}:{}", claims.tid, claims.sub);
            let token = token.to_string();
            req.extensions_mut()
                .insert(VerifiedAccess { token, claims });
            return ("user", who, limiter.user);
        }
    }
    let ip = if kernel.config.trust_proxy_headers {
        req.connection_info()
            .realip_remote_addr()
            .map(str::to_string)
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    };
    let ip = format!("ip:{}", ip.unwrap_or_else(|| "unknown".into()));
    if SIGN_IN.contains(&req.path()) {
        return ("login", ip, limiter.login);
    }
    ("anonymous", ip, limiter.anonymous)
}

/// Middleware applying the anonymous and per-user limits, with `X-RateLimit-*` headers.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let kernel = req.app_data::<web::Data<Kernel>>().cloned();
    let quota = match kernel {
        Some(kernel) if !exempt(req.path()) => {
            let (kind, who, limit) = subject(&kernel, &req);
            kernel.rate_limits.hit(kind, &who, limit).await?
        }
        _ => None,
    };
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(q) = quota {
        let headers = res.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", q.limit as u64),
            ("x-ratelimit-remaining", q.remaining as u64),
            ("x-ratelimit-reset", q.reset_secs),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    Ok(res)
}
