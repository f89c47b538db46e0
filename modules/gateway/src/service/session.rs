//! The shared session of a platform and its account pool, in the kernel's cache (Redis
//! when configured, so every replica and the worker see one session; in-process
//! otherwise). Keys, under the platform's prefix (`gateway:{tenant}:{platform}:`):
//!
//! - `session:main` — the session ([`Session`]), written only by the login
//!   that holds the login lease (a fenced write);
//! - `session:touched` — the last use; it lives `session_timeout`, so its absence is
//!   "idle too long" without rewriting the session on every call;
//! - `session:{created}:uses` — calls served by that session (`max_session_uses`);
//! - `stats:login_count`, `stats:error_count` — counters;
//! - `pool:{account}:score`, `pool:{account}:retired` — the pool (below).
//!
//! The pool, in the spirit of Crawlee's SessionPool: a failure adds 1 to the account's
//! error score, a success takes 0.5 off; at 3 the account is retired for a
//! `session_timeout` and the next login uses the next account. Scores are read and
//! written without a lock: two replicas may both add 1 at once and count one, which
//! only delays a retirement by one failure.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shopops_kernel::{AppResult, Kernel};

use super::Platform;

/// Retire an account at this error score.
pub const RETIRE_AT: f64 = 3.0;
/// How long the counters (`stats:*`) live.
const STATS_TTL: Duration = Duration::from_secs(30 * 86_400);
/// Bound on the main key's life: validity comes from `session:touched`.
const SESSION_KEY_TTL: Duration = Duration::from_secs(7 * 86_400);

/// How the session was made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoginInfo {
    pub captcha_url: String,
    pub login_time: DateTime<Utc>,
    pub account_id: i64,
    pub solver: String,
    /// Captchas fetched for this login.
    pub attempts: u32,
    /// The login lease's fencing token.
    pub fence: u64,
}

/// A platform session as stored (docs/gateway.md "How sessions work").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub cookies: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub last_accessed: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub login_info: LoginInfo,
}

/// A session as a caller sees it: live, with its last use.
#[derive(Debug, Clone)]
pub struct Live {
    pub session: Session,
    pub last_used: DateTime<Utc>,
}

impl Platform {
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.session_timeout)
    }

    /// The live session, if any: stored and used within `session_timeout`.
    pub async fn live_session(&self, kernel: &Kernel) -> AppResult<Option<Live>> {
        let Some(raw) = kernel.cache.cache.get(&self.key("session:main")).await? else {
            return Ok(None);
        };
        let Ok(session) = serde_json::from_str::<Session>(&raw) else {
            tracing::warn!(platform = %self.name, "stored session unreadable; logging in again");
            return Ok(None);
        };
        let Some(touched) = kernel.cache.cache.get(&self.key("session:touched")).await? else {
            return Ok(None);
        };
        let last_used = touched
            .parse::<DateTime<Utc>>()
            .unwrap_or(session.created_at);
        Ok(Some(Live { session, last_used }))
    }

    /// Marks the session used now (idle timer restarts).
    pub async fn touch(&self, kernel: &Kernel) -> AppResult<()> {
        kernel
            .cache
            .cache
            .set(
                &self.key("session:touched"),
                &Utc::now().to_rfc3339(),
                self.session_ttl(),
            )
            .await?;
        Ok(())
    }

    /// Counts one call on `session`; `false` when it has served `max_session_uses`.
    pub async fn count_use(&self, kernel: &Kernel, session: &Session) -> AppResult<bool> {
        let max = self.settings.max_session_uses;
        if max == 0 {
            return Ok(true);
        }
        let key = self.key(&format!(
            "session:{}:uses",
            session.created_at.timestamp_millis()
        ));
        let uses = kernel.cache.cache.incr(&key, SESSION_KEY_TTL).await?;
        Ok(uses as u64 <= max)
    }

    /// Writes a new session while `lease` (the login lease) is still held.
    pub async fn store_session(
        &self,
        kernel: &Kernel,
        lease: &shopops_kernel::lease::Lease,
        session: &Session,
    ) -> AppResult<bool> {
        let json = serde_json::to_string(session).map_err(shopops_kernel::AppError::internal)?;
        let written = kernel
            .leases
            .set_if_held(lease, &self.key("session:main"), &json, SESSION_KEY_TTL)
            .await?;
        if written {
            self.touch(kernel).await?;
            kernel
                .cache
                .cache
                .incr(&self.key("stats:login_count"), STATS_TTL)
                .await?;
        }
        Ok(written)
    }

    pub async fn count_error(&self, kernel: &Kernel) -> AppResult<()> {
        kernel
            .cache
            .cache
            .incr(&self.key("stats:error_count"), STATS_TTL)
            .await?;
        Ok(())
    }

    pub async fn stat(&self, kernel: &Kernel, name: &str) -> AppResult<i64> {
        let value = kernel
            .cache
            .cache
            .get(&self.key(&format!("stats:{name}")))
            .await?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    pub async fn score(&self, kernel: &Kernel, account: i64) -> AppResult<f64> {
        let value = kernel
            .cache
            .cache
            .get(&self.key(&format!("pool:{account}:score")))
            .await?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0.0))
    }

    pub async fn is_retired(&self, kernel: &Kernel, account: i64) -> AppResult<bool> {
        let key = self.key(&format!("pool:{account}:retired"));
        Ok(kernel.cache.cache.get(&key).await?.is_some())
    }

    /// A failure of the account's session: +1, and retirement at [`RETIRE_AT`].
    pub async fn penalise(&self, kernel: &Kernel, account: i64) -> AppResult<()> {
        let score = self.score(kernel, account).await? + 1.0;
        self.count_error(kernel).await?;
        if score >= RETIRE_AT {
            self.retire(kernel, account).await
        } else {
            self.set_score(kernel, account, score).await
        }
    }

    /// A success: −0.5, never below 0.
    pub async fn reward(&self, kernel: &Kernel, account: i64) -> AppResult<()> {
        let score = self.score(kernel, account).await?;
        if score > 0.0 {
            self.set_score(kernel, account, (score - 0.5).max(0.0))
                .await?;
        }
        Ok(())
    }

    /// Retires the account for a `session_timeout` (its score starts again at 0).
    pub async fn retire(&self, kernel: &Kernel, account: i64) -> AppResult<()> {
        tracing::info!(platform = %self.name, account, "account retired from the pool");
        let key = self.key(&format!("pool:{account}:retired"));
        kernel
            .cache
            .cache
            .set(&key, "1", self.session_ttl())
            .await?;
        self.set_score(kernel, account, 0.0).await
    }

    async fn set_score(&self, kernel: &Kernel, account: i64, score: f64) -> AppResult<()> {
        let key = self.key(&format!("pool:{account}:score"));
        kernel
            .cache
            .cache
            .set(&key, &score.to_string(), STATS_TTL)
            .await?;
        Ok(())
    }
}
