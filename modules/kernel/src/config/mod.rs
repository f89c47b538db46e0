//! Typed, layered configuration: built-in defaults < optional TOML file < environment.
//!
//! Environment names are `SHOPOPS_<KEY>` (for example `SHOPOPS_BIND`), plus the
//! conventional unprefixed `DATABASE_URL` and `REDIS_URL`. Every key is listed in
//! `docs/configuration.md`. Secrets are held in [`SecretString`] so they never print.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

mod defaults;
use defaults::DEFAULTS;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, pretty otherwise.
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The TOML file the settings came from (`SHOPOPS_CONFIG`), for module sections.
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Directory for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; empty means SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Maximum pooled database connections (PostgreSQL; SQLite uses one writer).
    pub database_max_connections: u32,
    /// `redis://…`; empty means in-process cache, throttles and revocation lists.
    pub redis_url: Option<SecretString>,
    /// Prefix for every Redis key, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// Run pending migrations when the server starts.
    pub migrate_on_start: bool,
    /// `user:password` — creates the superadmin at first start when no user exists.
    pub bootstrap_admin: Option<SecretString>,
    /// HS256 signing key for access tokens (≥ 32 bytes). Empty: a random key is
    /// generated once and kept in the database, shared by every replica.
    pub jwt_secret: Option<SecretString>,
    /// Keys for personal data at rest, `id:base64(32 bytes),…`; the first encrypts,
    /// all decrypt (rotation). Empty: one key is generated and kept in the database.
    pub pii_keys: Option<SecretString>,
    /// Key of the keyed hashes that find personal data (base64, 32 bytes). Must never
    /// change once data exists. Empty: generated and kept in the database.
    pub pii_index_key: Option<SecretString>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub login_max_failures: u32,
    pub login_lockout_secs: u64,
    pub idempotency_ttl_secs: u64,
    /// An in-flight idempotency key older than this is considered abandoned (crash).
    pub idempotency_stale_secs: u64,
    /// How often each replica checks the database for RBAC policy changes.
    pub rbac_reload_secs: u64,
    /// `off`: this process runs only its own per-process jobs; the cluster-wide ones
    /// (one leader at a time) are left to the keepalive worker or other replicas.
    pub jobs: String,
    /// A cluster-wide job's leader holds its lease this long and renews it every third
    /// of it; a leader that dies is replaced within this time.
    pub job_lease_secs: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Base of `documentation_url` in error envelopes (the server serves `/docs/errors`).
    pub error_docs_url: String,
    /// Language of error messages when `Accept-Language` names neither `zh` nor `en`:
    /// `zh-CN` or `en`.
    pub default_language: String,
    pub log_format: LogFormat,
    /// `tracing` filter directive, e.g. `info,sqlx=warn`.
    pub log_level: String,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,

    // --- HTTP hardening and shutdown
    /// A handler running longer than this is cut off with 503 `REQUEST_TIMEOUT`.
    pub request_timeout_secs: u64,
    /// Time a client has to send the request head.
    pub header_read_timeout_secs: u64,
    /// How long an idle connection is kept open for the client's next request; 0
    /// closes each connection after its answer.
    pub keep_alive_secs: u64,
    /// Longest request line (method, path and query); longer is 414 `URI_TOO_LONG`.
    pub max_uri_bytes: usize,
    /// Largest request head (request line and headers); larger is 431.
    pub max_header_bytes: usize,
    /// On SIGTERM: keep serving (with `/readyz` 503) this long so load balancers stop
    /// sending, then stop accepting.
    pub shutdown_delay_secs: u64,
    /// Then wait at most this long for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// Comma-separated origins allowed by CORS; empty = no cross-origin access.
    pub cors_allowed_origins: String,
    /// `Strict-Transport-Security` max-age; 0 = header not sent (TLS ends elsewhere).
    pub hsts_max_age_secs: u64,
    /// Take the client address from `X-Forwarded-For`/`Forwarded` (behind a trusted proxy).
    pub trust_proxy_headers: bool,

    // --- rate limits (fixed one-hour windows)
    pub rate_limit_enabled: bool,
    pub rate_limit_anonymous_per_hour: u32,
    pub rate_limit_user_per_hour: u32,
    /// Sign-in and token refresh per client IP, counted apart from other anonymous
    /// calls so browsing the API docs never blocks signing in.
    pub rate_limit_login_per_hour: u32,
    /// Limits of the modules' named buckets, `name=limit,name=limit` per user per hour,
    /// replacing their declared defaults; a name no module declares stops the start.
    pub rate_limit_buckets: String,

    // --- outside calls (docs/configuration.md, "Outside calls")
    pub outside_timeout_secs: u64,
    /// Concurrent requests per outside target.
    pub outside_max_connections: usize,
    pub outside_max_idle_per_target: usize,
    pub outside_idle_timeout_secs: u64,
    pub outside_max_retries: usize,
    /// First retry delay; doubles each retry (0.5 s by default).
    pub outside_backoff_ms: u64,
    pub outside_max_backoff_secs: u64,
    /// Consecutive failures that open a target's circuit.
    pub breaker_failure_threshold: u32,
    /// Failure rate (0..1) over the last `breaker_window` calls that opens it.
    pub breaker_failure_rate: f64,
    pub breaker_window: u32,
    pub breaker_open_secs: u64,
    /// Trial calls let through while half-open.
    pub breaker_half_open_max_calls: u32,
    /// A half-open circuit whose trials never report back reopens after this long.
    pub breaker_half_open_timeout_secs: u64,

    // --- alerting (rules, thresholds, channels; the unprefixed ALERT_* names also work)
    pub alert_eval_secs: u64,
    /// While a fault lasts, it is announced again at most this often.
    pub alert_cooldown_secs: u64,
    /// Requests needed in an evaluation period before error rate and latency count.
    pub alert_min_requests: u64,
    pub alert_error_rate: f64,
    pub alert_p95_latency_ms: u64,
    pub alert_outside_success_rate: f64,
    pub alert_outside_min_calls: usize,
    pub alert_outside_latency_ms: u64,
    pub alert_smtp_server: Option<String>,
    pub alert_smtp_port: u16,
    /// `starttls`, `implicit` (TLS from the first byte, port 465) or `none`.
    pub alert_smtp_tls: String,
    /// PEM file of a CA to trust for the SMTP server (a private relay), besides the
    /// system's roots.
    pub alert_smtp_ca_file: Option<PathBuf>,
    pub alert_email_username: Option<String>,
    pub alert_email_password: Option<SecretString>,
    pub alert_email_from: Option<String>,
    /// Comma-separated recipients.
    pub alert_email_to: String,
    pub alert_wecom_url: Option<SecretString>,
    pub alert_dingtalk_url: Option<SecretString>,
    pub alert_dingtalk_secret: Option<SecretString>,
    pub alert_feishu_url: Option<SecretString>,
    pub alert_feishu_secret: Option<SecretString>,
    /// One webhook; `alert_webhook_type` says what it is.
    pub alert_webhook_url: Option<SecretString>,
    /// `wechat`/`wecom`, `dingtalk`, `feishu`, or `generic` (plain JSON).
    pub alert_webhook_type: String,
}

/// Alert variables accepted without the `SHOPOPS_` prefix (the names the sellers'
/// existing support tools use; docs/configuration.md).
const UNPREFIXED_ALERT_ENV: &[&str] = &[
    "ALERT_SMTP_SERVER",
    "ALERT_SMTP_PORT",
    "ALERT_EMAIL_USERNAME",
    "ALERT_EMAIL_PASSWORD",
    "ALERT_EMAIL_TO",
    "ALERT_WEBHOOK_URL",
    "ALERT_WEBHOOK_TYPE",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then the TOML file named by `SHOPOPS_CONFIG` (if any), then the
    /// environment, and validates the result. `sections` are the modules' config
    /// sections (`[orders]` …): any other key of the file, and any `SHOPOPS_*`
    /// variable that names no key, is refused with its name.
    pub fn load(sections: &[&str]) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(DEFAULTS));
        let file = std::env::var_os("SHOPOPS_CONFIG").map(PathBuf::from);
        if let Some(path) = &file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "SHOPOPS_CONFIG names {}, which does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
            .merge(Env::raw().only(UNPREFIXED_ALERT_ENV))
            .merge(Env::prefixed("SHOPOPS_").ignore(&["CONFIG"]));
        let mut config = Self::from_figment(figment, sections)?;
        config.file = file;
        Ok(config)
    }

    /// A module's own settings, layered like the kernel's: its defaults (serde
    /// `default`s) < the file's `[section]` < environment variables starting with
    /// `env_prefix` (e.g. `KUAISHOU_APP_KEY` → `app_key`). `T` should refuse unknown
    /// fields, so a misspelt key is an error that names it.
    pub fn section<T: serde::de::DeserializeOwned>(
        &self,
        section: &str,
        env_prefix: &str,
    ) -> Result<T, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = &self.file {
            figment = figment.merge(Figment::from(Toml::file(path)).focus(section));
        }
        // `__` separates levels, so nested tables (`[cs.llm.providers.qwen]`) can be
        // set from the environment: `CS_LLM__PROVIDERS__QWEN__API_KEY`.
        figment = figment.merge(Env::prefixed(env_prefix).split("__"));
        figment.extract().map_err(|e| {
            let (key, kind) = key_of(&e);
            ConfigError::Invalid(format!(
                "key `{section}.{key}` (env {env_prefix}{}): {kind}",
                key.replace('.', "__").to_ascii_uppercase(),
            ))
        })
    }

    fn from_figment(figment: Figment, sections: &[&str]) -> Result<Self, ConfigError> {
        // Module sections are read by the modules (`section`); the rest must be ours.
        let mut all: figment::value::Dict = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for section in sections {
            all.remove(*section);
        }
        let config: Config = Figment::from(Serialized::defaults(all))
            .extract()
            .map_err(|e| {
                // figment names the key; values of secret keys are never part of its
                // messages for type errors on strings.
                let (key, kind) = key_of(&e);
                let env_name = if key.is_empty() {
                    String::new()
                } else {
                    format!(" (env {})", env_name_for(&key))
                };
                ConfigError::Invalid(format!("key `{key}`{env_name}: {kind}"))
            })?;
        config.validate()?;
        Ok(config)
    }

    /// The SQLite file of the embedded default (`data_dir/shopops.db`), or the path of
    /// a `sqlite:` `DATABASE_URL`.
    pub fn sqlite_path(&self) -> PathBuf {
        match self.database_url.as_ref().map(|s| s.expose_secret().trim()) {
            Some(url) if url.starts_with("sqlite:") => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                PathBuf::from(path.split('?').next().unwrap_or(path))
            }
            _ => self.data_dir.join("shopops.db"),
        }
    }

    /// The language of messages when the caller asks for none we have.
    pub fn default_lang(&self) -> crate::error::Lang {
        crate::error::Lang::parse(&self.default_language).unwrap_or_default()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| {
            Err(ConfigError::Invalid(format!(
                "key `{key}` (env {}): {why}",
                env_name_for(key)
            )))
        };
        if let Some(url) = self.database_url.as_ref().map(|s| s.expose_secret().trim()) {
            let known = ["postgres://", "postgresql://", "sqlite:"];
            if !url.is_empty() && !known.iter().any(|p| url.starts_with(p)) {
                return bad(
                    "database_url",
                    "must start with postgres://, postgresql:// or sqlite:",
                );
            }
        }
        if let Some(url) = self.redis_url.as_ref().map(|s| s.expose_secret().trim()) {
            let known = ["redis://", "rediss://"];
            if !url.is_empty() && !known.iter().any(|p| url.starts_with(p)) {
                return bad("redis_url", "must start with redis:// or rediss://");
            }
        }
        if let Some(secret) = &self.jwt_secret {
            if !secret.expose_secret().is_empty() && secret.expose_secret().len() < 32 {
                return bad("jwt_secret", "must be at least 32 bytes");
            }
        }
        if let Some(admin) = &self.bootstrap_admin {
            let admin = admin.expose_secret();
            if !admin.is_empty() {
                match admin.split_once(':') {
                    Some((user, pass)) if !user.is_empty() && pass.len() >= 8 => {}
                    _ => {
                        return bad(
                            "bootstrap_admin",
                            "must be `username:password` with a password of at least 8 characters",
                        )
                    }
                }
            }
        }
        if self.access_token_ttl_secs == 0 {
            return bad("access_token_ttl_secs", "must be greater than 0");
        }
        if self.refresh_token_ttl_secs <= self.access_token_ttl_secs {
            return bad(
                "refresh_token_ttl_secs",
                "must be longer than access_token_ttl_secs",
            );
        }
        if self.login_max_failures == 0 {
            return bad("login_max_failures", "must be greater than 0");
        }
        if self.idempotency_ttl_secs < 3600 {
            return bad("idempotency_ttl_secs", "must be at least 3600");
        }
        if self.rbac_reload_secs == 0 {
            return bad("rbac_reload_secs", "must be greater than 0");
        }
        if !["on", "off"].contains(&self.jobs.as_str()) {
            return bad("jobs", "must be on or off");
        }
        if self.job_lease_secs < 3 {
            return bad("job_lease_secs", "must be at least 3");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        if self.database_max_connections == 0 {
            return bad("database_max_connections", "must be greater than 0");
        }
        if crate::error::Lang::parse(&self.default_language).is_none() {
            return bad("default_language", "must be zh-CN or en");
        }
        // actix refuses a URI over 64 KiB and a head over 128 KiB itself, with a bare
        // status; our limits must be below, so every refusal is an envelope.
        if !(1024..=60 * 1024).contains(&self.max_uri_bytes) {
            return bad("max_uri_bytes", "must be 1024 to 61440");
        }
        if !(4096..=120 * 1024).contains(&self.max_header_bytes)
            || self.max_header_bytes < self.max_uri_bytes
        {
            return bad(
                "max_header_bytes",
                "must be 4096 to 122880 and at least max_uri_bytes",
            );
        }
        if self.request_timeout_secs == 0 {
            return bad("request_timeout_secs", "must be greater than 0");
        }
        if let Err(why) = self.rate_limit_bucket_limits() {
            return bad("rate_limit_buckets", &why);
        }
        if !(0.0..=1.0).contains(&self.breaker_failure_rate) || self.breaker_failure_rate == 0.0 {
            return bad("breaker_failure_rate", "must be above 0 and at most 1");
        }
        if self.breaker_window == 0 || self.breaker_failure_threshold == 0 {
            return bad(
                "breaker_window",
                "breaker_window and breaker_failure_threshold must be > 0",
            );
        }
        if self.breaker_half_open_max_calls == 0 {
            return bad("breaker_half_open_max_calls", "must be greater than 0");
        }
        if self.outside_max_connections == 0 {
            return bad("outside_max_connections", "must be greater than 0");
        }
        if self.alert_eval_secs == 0 {
            return bad("alert_eval_secs", "must be greater than 0");
        }
        if !["starttls", "implicit", "none"].contains(&self.alert_smtp_tls.as_str()) {
            return bad("alert_smtp_tls", "must be starttls, implicit or none");
        }
        if !["wechat", "wecom", "dingtalk", "feishu", "generic"]
            .contains(&self.alert_webhook_type.as_str())
        {
            return bad(
                "alert_webhook_type",
                "must be wechat, wecom, dingtalk, feishu or generic",
            );
        }
        if self
            .alert_smtp_server
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            && self.alert_email_recipients().is_empty()
        {
            return bad(
                "alert_email_to",
                "give at least one recipient when alert_smtp_server is set",
            );
        }
        Ok(())
    }

    /// The named rate-limit buckets, `name → requests per hour`.
    pub fn rate_limit_bucket_limits(&self) -> Result<Vec<(String, u32)>, String> {
        self.rate_limit_buckets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (name, limit) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("`{pair}` is not name=limit"))?;
                let limit = limit
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`{pair}`: limit must be a positive integer"))?;
                Ok((name.trim().to_string(), limit))
            })
            .collect()
    }

    /// Recipients of alert e-mails.
    pub fn alert_email_recipients(&self) -> Vec<String> {
        split_list(&self.alert_email_to)
    }

    /// CORS origins from `cors_allowed_origins`.
    pub fn cors_origins(&self) -> Vec<String> {
        split_list(&self.cors_allowed_origins)
    }

    /// The database URL in use: the configured one, or SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        match self.database_url.as_ref().map(|s| s.expose_secret().trim()) {
            Some(url) if !url.is_empty() => url.to_string(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("shopops.db").display()
            ),
        }
    }

    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_ref()
            .map(|s| s.expose_secret().trim())
            .filter(|s| !s.is_empty())
    }

    /// Whether this process runs the cluster-wide jobs (`jobs = "on"`).
    pub fn runs_cluster_jobs(&self) -> bool {
        self.jobs == "on"
    }

    pub fn is_sqlite(&self) -> bool {
        self.effective_database_url().starts_with("sqlite:")
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The key an error is about (an unknown field names itself) and what is wrong.
fn key_of(e: &figment::Error) -> (String, String) {
    match &e.kind {
        figment::error::Kind::UnknownField(name, _) => {
            // figment's path may already end with the unknown key.
            let mut path = e.path.clone();
            if path.last() != Some(name) {
                path.push(name.clone());
            }
            (
                path.join("."),
                "unknown key (misspelt? see docs/configuration.md)".into(),
            )
        }
        kind => (e.path.join("."), kind.to_string()),
    }
}

/// The environment variable that sets a key.
pub fn env_name_for(key: &str) -> String {
    match key {
        "database_url" => "DATABASE_URL".into(),
        "redis_url" => "REDIS_URL".into(),
        other => format!("SHOPOPS_{}", other.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests;
