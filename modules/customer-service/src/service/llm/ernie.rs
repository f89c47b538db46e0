//! Baidu ERNIE through Qianfan's classic API ("千帆大模型平台", wenxinworkshop).
//!
//! Confirmed in Baidu's documentation (docs corpus, 2026-12):
//! - token: `POST https://aip.baidubce.com/oauth/2.0/token` with `grant_type=client_credentials`,
//!   `client_id` = the app's API Key and `client_secret` = its Secret Key in the URL; answer
//!   `{access_token, expires_in (s, "一般为1个月"), …}`, refusal `{error: "invalid_client",
//!   error_description}` (cloud.baidu.com/doc/NLP/s/Okahxcw9u "鉴权认证机制").
//! - chat: `POST /rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}?access_token=…` on the
//!   same host (`completions_pro`, `ernie-4.0-8k-latest` …); body `messages` (odd count,
//!   user/assistant alternating, last one the question), `system` ("模型人设", at most 1024
//!   characters), `temperature` (0, 1.0], `max_output_tokens` [2, 2048]; answer `{result,
//!   is_truncated, need_clear_history, finish_reason, usage}` (cloud.baidu.com/doc/WENXINWORKSHOP,
//!   the ERNIE-4.0-8K and ERNIE-4.0-Turbo pages).
//! - errors `{error_code, error_msg}`: 110 "Access token invalid or no longer valid", 111
//!   "Access token expired" (valid 30 days; "也可以每次请求都拉取新token"), 17/18 daily/QPS
//!   limits, 336000 internal error, 336001 invalid argument.
//!
//! Qianfan's newer v2 API (`https://qianfan.baidubce.com/v2/chat/completions`, bearer API
//! Key) is OpenAI-compatible: configure it as `kind = "openai"`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use shopops_kernel::outside::{Repeat, Target};
use tokio::sync::Mutex;

use super::settings::{ProviderSettings, ERNIE_SYSTEM_MAX_CHARS};
use super::{identifier, outside_reason, Failure};

/// ERNIE's classic API refuses a last message longer than this (the lowest documented
/// limit across its chat endpoints): the KB answer is shortened to fit.
pub(super) const USER_MAX_CHARS: usize = 4800;

pub(super) fn chat_path(endpoint: &str) -> String {
    format!("/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}")
}
pub(super) const TOKEN_PATH: &str = "/oauth/2.0/token";

struct Token {
    value: SecretString,
    /// Refreshed before this, so no call is made with a token about to lapse.
    renew_at: Instant,
}

pub(super) struct Ernie {
    target: Arc<Target>,
    base: String,
    api_key: SecretString,
    secret_key: SecretString,
    pub(super) endpoint: String,
    temperature: f64,
    max_tokens: u32,
    /// One token for every call; the lock is held while fetching, so concurrent calls
    /// that find none (or the same refused one) cause one fetch, not one each.
    token: Mutex<Option<Token>>,
    /// Token fetches since start (tests and `describe` read it).
    pub(super) fetches: std::sync::atomic::AtomicUsize,
}

/// What one chat call produced.
enum Answer {
    Text(String),
    /// 110/111: the token is invalid or expired.
    TokenRefused,
}

impl Ernie {
    pub(super) fn new(target: Arc<Target>, settings: &ProviderSettings) -> anyhow::Result<Self> {
        let (Some(api_key), Some(secret_key)) = (&settings.api_key, &settings.secret_key) else {
            anyhow::bail!("ernie needs api_key and secret_key");
        };
        Ok(Self {
            target,
            base: settings.base_url(),
            api_key: api_key.clone(),
            secret_key: secret_key.clone(),
            endpoint: settings.model.clone(),
            temperature: settings.temperature,
            max_tokens: settings.max_tokens,
            token: Mutex::new(None),
            fetches: Default::default(),
        })
    }

    /// The reply, with one token refresh and retry when ERNIE says the token is invalid
    /// or expired (a token revoked early, or a clock that disagrees with ours).
    ///
    /// HTTP retries: `Repeat::Always` for both calls. Asking for a token changes nothing
    /// (earlier tokens stay valid); a chat call changes nothing but the bill. ERNIE answers
    /// most errors with HTTP 200 and an `error_code`, which are final here: the message
    /// then waits in review, and the failure counts towards the provider's alert.
    pub(super) async fn chat(&self, system: &str, user: &str) -> Result<String, Failure> {
        if system.chars().count() > ERNIE_SYSTEM_MAX_CHARS {
            return Err(Failure::local(
                "the system prompt is longer than ERNIE's 1024 characters",
            ));
        }
        let body = body(system, user, self.temperature, self.max_tokens);
        let token = self.token(None).await?;
        match self.call(&token, &body).await? {
            Answer::Text(text) => Ok(text),
            Answer::TokenRefused => {
                let fresh = self.token(Some(&token)).await?;
                match self.call(&fresh, &body).await? {
                    Answer::Text(text) => Ok(text),
                    Answer::TokenRefused => Err(Failure::provider(
                        "error 111/110 (access token refused) even after a refresh",
                    )),
                }
            }
        }
    }

    /// A usable token: the cached one unless it is about to lapse or is `refused`;
    /// otherwise a new one, fetched once however many callers ask at the same time.
    async fn token(&self, refused: Option<&SecretString>) -> Result<SecretString, Failure> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            let was_refused = refused.is_some_and(|r| r.expose_secret() == t.value.expose_secret());
            if !was_refused && Instant::now() < t.renew_at {
                return Ok(t.value.clone());
            }
        }
        *cached = None;
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request = self
            .target
            .client()
            .post(format!("{}{TOKEN_PATH}", self.base))
            .query(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.api_key.expose_secret()),
                ("client_secret", self.secret_key.expose_secret()),
            ])
            .build()
            .map_err(|_| Failure::provider("the token request could not be built"))?;
        let response = self
            .target
            .send(request, Repeat::Always)
            .await
            .map_err(|e| Failure::provider(format!("token: {}", outside_reason(&e))))?;
        let status = response.status();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        let (value, lifetime) = parse_token(&json)
            .map_err(|why| Failure::provider(format!("token: answered {status}{why}")))?;
        // Renew a tenth of the lifetime early (3 days of the usual 30), at least a minute.
        let margin = (lifetime / 10).max(Duration::from_secs(60));
        let token = Token {
            value: SecretString::from(value),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        };
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    async fn call(&self, token: &SecretString, body: &Value) -> Result<Answer, Failure> {
        let request = self
            .target
            .client()
            .post(format!("{}{}", self.base, chat_path(&self.endpoint)))
            .query(&[("access_token", token.expose_secret())])
            .json(body)
            .build()
            .map_err(|_| Failure::provider("the request could not be built"))?;
        let response = self
            .target
            .send(request, Repeat::Always)
            .await
            .map_err(|e| Failure::provider(outside_reason(&e)))?;
        let status = response.status();
        let json: Option<Value> = response.json().await.ok();
        if !status.is_success() {
            let code = json.as_ref().and_then(error_code);
            return Err(Failure::provider(match code {
                Some(code) => format!("answered {status} ({})", describe_code(code)),
                None => format!("answered {status}"),
            }));
        }
        let json = json.ok_or_else(|| Failure::provider("the answer is not JSON"))?;
        parse_answer(&json).map_err(Failure::provider)
    }
}

/// The chat body: the user message, ERNIE's own `system` field (it has no system role
/// in `messages`), and the sampling settings.
pub(super) fn body(system: &str, user: &str, temperature: f64, max_tokens: u32) -> Value {
    json!({
        "messages": [{ "role": "user", "content": user }],
        "system": system,
        "temperature": temperature,
        "max_output_tokens": max_tokens,
    })
}

/// `(access_token, expires_in)`; on a refusal, the error identifier (`invalid_client`)
/// as ` (…)` for the reason. `error_description` is not kept: the identifier says enough.
fn parse_token(json: &Value) -> Result<(String, Duration), String> {
    if let Some(token) = json["access_token"].as_str().filter(|t| !t.is_empty()) {
        // Baidu documents 30 days; an answer without a lifetime is trusted for one hour.
        let secs = json["expires_in"].as_u64().unwrap_or(3600);
        return Ok((token.to_string(), Duration::from_secs(secs)));
    }
    Err(match json["error"].as_str().filter(|e| identifier(e)) {
        Some(error) => format!(" ({error})"),
        None => " (no access_token)".to_string(),
    })
}

fn error_code(json: &Value) -> Option<i64> {
    json["error_code"].as_i64()
}

/// An error code as a reason. Only the code and our own words for the codes we know:
/// `error_msg` is Baidu's text and is left out, so nothing of the request can slip in.
fn describe_code(code: i64) -> String {
    let known = match code {
        17 => "daily request limit reached",
        18 => "QPS limit reached",
        110 => "access token invalid",
        111 => "access token expired",
        336000 => "internal error",
        336001 => "invalid argument",
        _ => return format!("error {code}"),
    };
    format!("error {code}: {known}")
}

fn parse_answer(json: &Value) -> Result<Answer, String> {
    if let Some(code) = error_code(json) {
        return match code {
            110 | 111 => Ok(Answer::TokenRefused),
            code => Err(describe_code(code)),
        };
    }
    if json["need_clear_history"] == true {
        return Err("ERNIE flagged the conversation as unsafe (need_clear_history)".into());
    }
    if json["finish_reason"] == "content_filter" {
        return Err("ERNIE's content filter stopped the answer".into());
    }
    match json["result"].as_str() {
        Some(text) if !text.trim().is_empty() => Ok(Answer::Text(text.to_string())),
        _ => Err("the answer has no `result`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_ernies_own_system_field_and_names() {
        assert_eq!(
            body("你是客服", "在吗", 0.7, 500),
            json!({ "messages": [{ "role": "user", "content": "在吗" }], "system": "你是客服",
                "temperature": 0.7, "max_output_tokens": 500 })
        );
        assert_eq!(
            chat_path("completions_pro"),
            "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"
        );
    }

    #[test]
    fn answers_errors_and_token_refusals_are_told_apart() {
        let ok = json!({ "id": "as-1", "object": "chat.completion", "result": "您好，今天发货。", "is_truncated": false, "need_clear_history": false });
        assert!(matches!(parse_answer(&ok), Ok(Answer::Text(t)) if t == "您好，今天发货。"));
        for code in [110, 111] {
            let refused = json!({ "error_code": code, "error_msg": "Access token expired" });
            assert!(matches!(parse_answer(&refused), Ok(Answer::TokenRefused)));
        }
        let limited =
            json!({ "error_code": 18, "error_msg": "Open api qps request limit reached" });
        assert_eq!(
            parse_answer(&limited).err().unwrap(),
            "error 18: QPS limit reached"
        );
        let other = json!({ "error_code": 336003, "error_msg": "买家的原话 echoed" });
        assert_eq!(parse_answer(&other).err().unwrap(), "error 336003");
        assert!(parse_answer(&json!({ "result": "x", "need_clear_history": true })).is_err());
        assert!(parse_answer(&json!({ "result": "" })).is_err());
        assert!(
            parse_answer(&json!({ "result": "x", "finish_reason": "content_filter" })).is_err()
        );
    }

    #[test]
    fn tokens_are_read_with_their_lifetime_and_refusals_by_identifier() {
        let ok = json!({ "refresh_token": "25.x", "expires_in": 2592000, "access_token": "24.abc", "scope": "public" });
        assert_eq!(
            parse_token(&ok).unwrap(),
            ("24.abc".to_string(), Duration::from_secs(2592000))
        );
        let refused = json!({ "error": "invalid_client", "error_description": "Client authentication failed" });
        assert_eq!(parse_token(&refused).unwrap_err(), " (invalid_client)");
        assert_eq!(parse_token(&Value::Null).unwrap_err(), " (no access_token)");
    }
}
