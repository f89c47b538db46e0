//! Talking to the platform: signed API calls and the OAuth token endpoints, through the
//! kernel's outside-call toolkit (pool, timeouts, breaker, metrics), and what the
//! platform's answers mean for our callers.
//!
//! API calls are resent as the identical signed request on 429/5xx/network errors, as
//! the SDK does. Token calls are never repeated: an authorisation code works once, and
//! a refresh rotates the refresh token.

use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;
use serde_json::json;
use serde_json::value::RawValue;
use shopops_kernel::error::Code as KernelCode;
use shopops_kernel::outside::{OutsideCalls, OutsideError, Repeat, Target};
use shopops_kernel::{tr, AppError, AppResult, Kernel};

use crate::catalogue::HttpMethod;
use crate::client::oauth::{self, TokenGrant};
use crate::client::response::{classify, Outcome};
use crate::client::{sign_call, AppCredentials, Call, CallError};
use crate::config::KuaishouConfig;
use crate::error::{self, Code};
use crate::metrics::KuaishouMetrics;
use crate::service::events::Dispatcher;

/// Tokens from an exchange or a refresh.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub open_id: Option<String>,
    pub scopes: Vec<String>,
}

/// The platform's documented refresh-token lifetime, when nothing else says.
pub const REFRESH_TOKEN_DAYS: i64 = 180;

pub struct Platform {
    pub config: KuaishouConfig,
    pub metrics: KuaishouMetrics,
    /// Where stored message-push events go.
    pub dispatcher: Dispatcher,
    api: std::sync::Arc<Target>,
    oauth: std::sync::Arc<Target>,
}

fn tokens(grant: TokenGrant, refresh_token: String, refresh_expires_at: DateTime<Utc>) -> Tokens {
    Tokens {
        access_token: grant.access_token,
        refresh_token,
        access_expires_at: Utc::now() + Duration::seconds(grant.expires_in),
        refresh_expires_at,
        open_id: grant.open_id,
        scopes: grant.scopes,
    }
}

impl Platform {
    pub fn new(kernel: &Kernel, config: KuaishouConfig) -> Result<Self, OutsideError> {
        Self::from_parts(&kernel.outside, kernel.metrics.registry(), config)
    }

    /// The platform client from the kernel parts it uses (outside targets and the
    /// metrics registry), without a database: what the benchmarks drive.
    pub fn from_parts(
        outside: &OutsideCalls,
        registry: &prometheus::Registry,
        config: KuaishouConfig,
    ) -> Result<Self, OutsideError> {
        Ok(Self {
            config,
            metrics: KuaishouMetrics::new(registry),
            dispatcher: Dispatcher::default(),
            api: outside.target("kuaishou")?,
            oauth: outside.target("kuaishou-oauth")?,
        })
    }

    fn app(&self) -> AppResult<(String, String)> {
        if !self.config.is_configured() {
            return Err(error::not_configured(&[
                "KUAISHOU_APP_KEY",
                "KUAISHOU_APP_SECRET",
                "KUAISHOU_SIGN_SECRET",
            ]));
        }
        let key = self.config.app_key.clone().unwrap_or_default();
        let secret = self
            .config
            .app_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default();
        Ok((key, secret))
    }

    /// The API target's circuit, success rate and latency.
    pub fn api_status(&self) -> shopops_kernel::outside::TargetStatus {
        self.api.status()
    }

    /// Whether the platform answers HTTP at all (any status) within `timeout`.
    pub async fn reachable(&self, timeout: std::time::Duration) -> Result<(), String> {
        let probe = self
            .api
            .client()
            .head(&self.config.base_url)
            .timeout(timeout)
            .send();
        match probe.await {
            Ok(_) => Ok(()),
            Err(e) if e.is_timeout() => Err(format!("no answer within {} s", timeout.as_secs())),
            Err(_) => Err("unreachable".into()),
        }
    }

    /// Where to send a seller to authorise a shop (the platform's URL format).
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> AppResult<String> {
        let (app_key, _) = self.app()?;
        Ok(oauth::authorize_url(
            &self.config.authorize_url,
            &app_key,
            redirect_uri,
            &self.config.scopes,
            state,
        ))
    }

    /// Authorisation code → tokens (GET, as the platform documents; the SDK POSTs).
    pub async fn exchange_code(&self, code: &str) -> AppResult<Tokens> {
        let (app_key, secret) = self.app()?;
        let grant = self
            .token_call(oauth::code_exchange(&app_key, &secret, code))
            .await?;
        let refresh_token = grant.refresh_token.clone().ok_or_else(|| {
            error::oauth_failed(200, None, "the answer lacks refresh_token".into())
        })?;
        let refresh_expires_at = Utc::now()
            + Duration::seconds(
                grant
                    .refresh_token_expires_in
                    .unwrap_or(REFRESH_TOKEN_DAYS * 24 * 3600),
            );
        Ok(tokens(grant, refresh_token, refresh_expires_at))
    }

    /// Refresh token → new tokens. The platform rotates the refresh token and the new
    /// one inherits the old one's expiry, so `refresh_expires_at` carries over unless
    /// the answer says otherwise.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        refresh_expires_at: DateTime<Utc>,
    ) -> AppResult<Tokens> {
        let (app_key, secret) = self.app()?;
        let result = self
            .token_call(oauth::refresh(&app_key, &secret, refresh_token))
            .await;
        let outcome = if result.is_ok() { "ok" } else { "refused" };
        self.metrics
            .token_refreshes
            .with_label_values(&[outcome])
            .inc();
        let grant = result?;
        let expires = grant
            .refresh_token_expires_in
            .map(|s| Utc::now() + Duration::seconds(s))
            .unwrap_or(refresh_expires_at);
        let rotated = grant
            .refresh_token
            .clone()
            .unwrap_or_else(|| refresh_token.to_string());
        Ok(tokens(grant, rotated, expires))
    }

    async fn token_call(&self, request: oauth::OAuthRequest) -> AppResult<TokenGrant> {
        let url = format!("{}{}", self.config.base_url, request.path);
        let client = self.oauth.client();
        let built = match request.http_method {
            HttpMethod::Get => client.get(format!("{url}?{}", request.encoded())),
            HttpMethod::Post => client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(request.encoded()),
        }
        .header("accept", "application/json")
        .build()
        .map_err(AppError::internal)?;
        let response = self.oauth.send(built, Repeat::Never).await?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        oauth::read_token_answer(status, &text)
            .map_err(|r| error::oauth_failed(r.status, r.error, r.reason))
    }

    /// One signed API call; the answer classified.
    pub async fn call(
        &self,
        method: &str,
        access_token: &str,
        param_json: Option<&str>,
    ) -> AppResult<Outcome> {
        let (app_key, _) = self.app()?;
        let app = AppCredentials {
            app_key,
            sign_secret: self
                .config
                .sign_secret
                .as_ref()
                .map(|s| s.expose_secret().to_string())
                .unwrap_or_default(),
            sign_method: self.config.sign_method,
        };
        let call = Call {
            method,
            access_token,
            param_json,
            timestamp: Utc::now().timestamp_millis().to_string(),
        };
        let signed = sign_call(&app, &call).map_err(|e| match e {
            CallError::UnknownMethod(method) => error::unknown_method(&method),
            // A shop whose stored token is empty: the seller must authorise it again.
            CallError::MissingToken => Code::TokenInvalid.err().with_message(tr!(
                "店铺没有可用的 access token，请重新授权",
                "the shop has no access token; authorise it again"
            )),
        })?;
        let url = format!("{}{}", self.config.base_url, signed.path);
        let client = self.api.client();
        let request = match signed.http_method {
            HttpMethod::Get => client.get(format!("{url}?{}", signed.encoded())),
            HttpMethod::Post => client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(signed.encoded()),
        }
        .header("accept", "application/json")
        .build()
        .map_err(AppError::internal)?;
        let started = std::time::Instant::now();
        let outcome = match self.api.send(request, Repeat::Always).await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Valid UTF-8 is checked in one pass; only a broken answer pays for the
                // lossy conversion (reqwest's `text()` always does).
                let body = response.bytes().await.unwrap_or_default();
                let text = match std::str::from_utf8(&body) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(&body),
                };
                Ok(classify(status, &text))
            }
            Err(e) => Err(e),
        };
        self.metrics
            .api_duration
            .with_label_values(&[method])
            .observe(started.elapsed().as_secs_f64());
        let label = match &outcome {
            Ok(o) => o.label(),
            Err(_) => "unreachable",
        };
        self.metrics
            .api_calls
            .with_label_values(&[method, label])
            .inc();
        Ok(outcome?)
    }
}

/// The data of a successful call, or the error it maps to.
pub fn into_data(outcome: Outcome) -> AppResult<Box<RawValue>> {
    match outcome {
        Outcome::Ok { data, .. } => Ok(data),
        Outcome::ApiError {
            code,
            message,
            sub_code,
            ..
        } => Err(Code::ApiError.err().with_details(
            json!({ "platform_code": code, "platform_message": message, "sub_code": sub_code }),
        )),
        Outcome::AuthError { code, message } => Err(Code::TokenInvalid
            .err()
            .with_details(json!({ "platform_code": code, "platform_message": message }))),
        Outcome::RateLimited { .. } => Err(Code::RateLimited
            .err()
            .with_details(json!({ "retry_after": 10 }))),
        Outcome::ServerError { status, message } => Err(KernelCode::BadGateway.err().with_details(
            json!({ "dependency": "kuaishou", "status": status, "reason": message }),
        )),
    }
}

/// The platform's `data` read as `T` in one pass over the text it sent; an absent
/// `data` reads as `{}` when `T` cannot be null (all fields defaulted).
pub fn decode<T: serde::de::DeserializeOwned>(method: &str, data: &RawValue) -> AppResult<T> {
    serde_json::from_str(data.get())
        .or_else(|e| match data.get().trim() {
            "null" => serde_json::from_str("{}"),
            _ => Err(e),
        })
        .map_err(|e| {
            Code::UnexpectedAnswer
                .err()
                .with_details(json!({ "method": method, "reason": e.to_string() }))
        })
}
