//! Talking to the platform: signed API calls and the OAuth token endpoints, through the
//! kernel's outside-call toolkit (pool, timeouts, breaker, metrics).
//!
//! API calls are resent as the identical signed request on 429/5xx/network errors, as
//! the SDK does. Token calls are never repeated: an authorisation code works once, and
//! a refresh rotates the refresh token.

use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use shopops_kernel::outside::{OutsideError, Repeat, Target};
use shopops_kernel::{AppError, AppResult, Kernel};

use crate::catalogue::HttpMethod;
use crate::client::encode::{quote_plus, urlencode};
use crate::client::response::{classify, Outcome};
use crate::client::{sign_call, AppCredentials, Call};
use crate::config::KuaishouConfig;

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

#[derive(Deserialize)]
struct TokenReply {
    result: Option<i64>,
    error: Option<String>,
    error_msg: Option<String>,
    error_description: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token_expires_in: Option<i64>,
    open_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

pub struct Platform {
    pub config: KuaishouConfig,
    api: std::sync::Arc<Target>,
    oauth: std::sync::Arc<Target>,
}

fn not_configured() -> AppError {
    AppError::new(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "KUAISHOU_NOT_CONFIGURED", "the Kuaishou app is not configured")
        .with_details(serde_json::json!({ "missing": ["KUAISHOU_APP_KEY", "KUAISHOU_APP_SECRET", "KUAISHOU_SIGN_SECRET"] }))
}

impl Platform {
    pub fn new(kernel: &Kernel, config: KuaishouConfig) -> Result<Self, OutsideError> {
        Ok(Self {
            config,
            api: kernel.outside.target("kuaishou")?,
            oauth: kernel.outside.target("kuaishou-oauth")?,
        })
    }

    fn app(&self) -> AppResult<(String, String)> {
        if !self.config.is_configured() {
            return Err(not_configured());
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
        let pairs = [
            ("app_id".to_string(), app_key),
            ("redirect_uri".to_string(), redirect_uri.to_string()),
            ("scope".to_string(), self.config.scopes.clone()),
            ("response_type".to_string(), "code".to_string()),
            ("state".to_string(), state.to_string()),
        ];
        Ok(format!(
            "{}?{}",
            self.config.authorize_url,
            urlencode(&pairs)
        ))
    }

    /// Authorisation code → tokens (GET, as the platform documents; the SDK POSTs).
    pub async fn exchange_code(&self, code: &str) -> AppResult<Tokens> {
        let (app_key, secret) = self.app()?;
        let url = format!(
            "{}/oauth2/access_token?app_id={}&app_secret={}&grant_type=code&code={}",
            self.config.base_url,
            quote_plus(&app_key),
            quote_plus(&secret),
            quote_plus(code)
        );
        let request = self
            .oauth
            .client()
            .get(url)
            .build()
            .map_err(AppError::internal)?;
        self.token_call(request).await
    }

    /// Refresh token → new tokens (the platform rotates the refresh token).
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<Tokens> {
        let (app_key, secret) = self.app()?;
        let body = urlencode(&[
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.into()),
            ("app_id".into(), app_key),
            ("app_secret".into(), secret),
        ]);
        let request = self
            .oauth
            .client()
            .post(format!("{}/oauth2/refresh_token", self.config.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .build()
            .map_err(AppError::internal)?;
        self.token_call(request).await
    }

    async fn token_call(&self, request: reqwest::Request) -> AppResult<Tokens> {
        let response = self.oauth.send(request, Repeat::Never).await?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let refused = |reason: String| {
            AppError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "KUAISHOU_OAUTH_FAILED",
                "the platform refused the authorisation",
            )
            .with_details(serde_json::json!({ "status": status, "reason": reason }))
        };
        let reply: TokenReply = serde_json::from_str(&text)
            .map_err(|_| refused(format!("unreadable answer (HTTP {status})")))?;
        if status != 200 || reply.error.is_some() || reply.result.is_some_and(|r| r != 1) {
            let reason = reply
                .error_description
                .or(reply.error_msg)
                .or(reply.error)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(refused(reason));
        }
        let now = Utc::now();
        let (Some(access_token), Some(refresh_token), Some(expires_in)) =
            (reply.access_token, reply.refresh_token, reply.expires_in)
        else {
            return Err(refused(
                "the answer lacks access_token, refresh_token or expires_in".into(),
            ));
        };
        Ok(Tokens {
            access_token,
            refresh_token,
            access_expires_at: now + Duration::seconds(expires_in),
            // 180 days when the platform does not say (its documented lifetime).
            refresh_expires_at: now
                + Duration::seconds(reply.refresh_token_expires_in.unwrap_or(180 * 24 * 3600)),
            open_id: reply.open_id,
            scopes: reply.scopes,
        })
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
        let signed = sign_call(&app, &call)
            .map_err(|e| AppError::bad_request("KUAISHOU_UNKNOWN_METHOD", e.to_string()))?;
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
        let response = self.api.send(request, Repeat::Always).await?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(classify(status, &text))
    }
}

/// The data of a successful call, or the error it maps to.
pub fn into_data(outcome: Outcome) -> AppResult<Value> {
    match outcome {
        Outcome::Ok { data, .. } => Ok(data),
        Outcome::ApiError { code, message, sub_code, .. } => Err(AppError::new(actix_web::http::StatusCode::BAD_GATEWAY, "KUAISHOU_API_ERROR", "the platform refused the call")
            .with_details(serde_json::json!({ "platform_code": code, "platform_message": message, "sub_code": sub_code }))),
        Outcome::AuthError { code, message } => Err(AppError::new(actix_web::http::StatusCode::BAD_GATEWAY, "KUAISHOU_TOKEN_INVALID", "the shop's authorisation is no longer valid")
            .with_details(serde_json::json!({ "platform_code": code, "platform_message": message }))),
        Outcome::RateLimited { .. } => Err(AppError::new(actix_web::http::StatusCode::TOO_MANY_REQUESTS, "KUAISHOU_RATE_LIMITED", "the platform throttles this app; retry later")
            .with_details(serde_json::json!({ "retry_after": 10 }))),
        Outcome::ServerError { status, message } => Err(AppError::new(actix_web::http::StatusCode::BAD_GATEWAY, "BAD_GATEWAY", "the platform failed")
            .with_details(serde_json::json!({ "dependency": "kuaishou", "status": status, "reason": message }))),
    }
}
