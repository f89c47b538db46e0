//! OpenAI-compatible chat completions: OpenAI, Qwen through DashScope's compatible mode,
//! DeepSeek, Ollama, vLLM, and Baidu Qianfan's v2 API.
//!
//! Confirmed in the providers' documentation (docs corpus, 2026-12):
//! - DashScope: "通过HTTP请求调用时 … `POST https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions`"
//!   (help.aliyun.com/zh/model-studio/compatibility-of-openai-with-dashscope), bearer key.
//! - DeepSeek: `base_url` `https://api.deepseek.com`, or `https://api.deepseek.com/v1` "for
//!   compatibility with OpenAI" (api-docs.deepseek.com).
//! - Qianfan v2: `POST https://qianfan.baidubce.com/v2/chat/completions`, OpenAI-compatible,
//!   API-Key (bearer) auth (cloud.baidu.com qianfan-api "文本生成"): a version segment other
//!   than `/v1`, which is why a base URL ending in `/v<n>` is kept as it is.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use shopops_kernel::outside::{Repeat, Target};

use super::settings::ProviderSettings;
use super::{identifier, outside_reason, Failure};

pub(super) struct OpenAi {
    target: Arc<Target>,
    url: String,
    api_key: Option<SecretString>,
    pub(super) model: String,
    temperature: f64,
    max_tokens: u32,
}

impl OpenAi {
    pub(super) fn new(target: Arc<Target>, settings: &ProviderSettings) -> Self {
        Self {
            target,
            url: chat_url(&settings.base_url()),
            api_key: settings.api_key.clone(),
            model: settings.model.clone(),
            temperature: settings.temperature,
            max_tokens: settings.max_tokens,
        }
    }

    /// The answer's text, or why there is none.
    ///
    /// Repeated (`Repeat::Always`) after a 429, a 5xx, a timeout or a network error, up to
    /// the provider's `max_retries`: a chat completion changes nothing at the provider but
    /// its bill, and OpenAI's and DashScope's own SDKs retry exactly these (twice by
    /// default). A 4xx other than 429 (bad key, unknown model, refused content) is final.
    pub(super) async fn chat(&self, system: &str, user: &str) -> Result<String, Failure> {
        let mut request = self.target.client().post(&self.url).json(&body(
            &self.model,
            self.temperature,
            self.max_tokens,
            system,
            user,
        ));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let request = request
            .build()
            .map_err(|_| Failure::provider("the request could not be built"))?;
        let response = self
            .target
            .send(request, Repeat::Always)
            .await
            .map_err(|e| Failure::provider(outside_reason(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|_| Failure::provider("the answer could not be read"))?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            return Err(Failure::provider(error_reason(
                &status.to_string(),
                json.as_ref(),
            )));
        }
        let json = json.ok_or_else(|| Failure::provider("the answer is not JSON"))?;
        parse_answer(&json).map_err(Failure::provider)
    }
}

/// `messages` = [system, user]; no streaming (the reply goes to review or the outbox
/// whole).
pub(super) fn body(
    model: &str,
    temperature: f64,
    max_tokens: u32,
    system: &str,
    user: &str,
) -> Value {
    json!({
        "model": model,
        "messages": [
            { "role": "system", "content": system },
            { "role": "user", "content": user },
        ],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "stream": false,
    })
}

/// The chat-completions URL of a base URL. `…/chat/completions` is used as given; a
/// base ending in a version segment (`/v1`, Qianfan's `/v2`, `/v4`) gets
/// `/chat/completions`; any other (`https://api.openai.com`, DashScope's
/// `…/compatible-mode`, `http://ollama:11434`) gets `/v1/chat/completions`.
pub(super) fn chat_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        return base.to_string();
    }
    let last = base.rsplit('/').next().unwrap_or_default();
    let versioned =
        last.len() > 1 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit());
    if versioned {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// `choices[0].message.content`. An absent or blank answer, or one the provider's filter
/// stopped (`finish_reason: content_filter`), is no answer.
pub(super) fn parse_answer(json: &Value) -> Result<String, String> {
    let choice = &json["choices"][0];
    if choice["finish_reason"] == "content_filter" {
        return Err("the provider's content filter stopped the answer".into());
    }
    match choice["message"]["content"].as_str() {
        Some(text) if !text.trim().is_empty() => Ok(text.to_string()),
        _ => Err("the answer has no reply text".into()),
    }
}

/// What a refusal may say: the status and, when it is identifier-shaped, the error's
/// `code` or `type` (`invalid_api_key`, `rate_limit_exceeded`, `data_inspection_failed`).
/// Never the error's `message`: servers echo parts of the request there (vLLM quotes
/// the prompt's length, some quote the content), and the prompt holds buyer text.
pub(super) fn error_reason(status: &str, json: Option<&Value>) -> String {
    let error = json.map(|j| &j["error"]);
    let code = error.and_then(|e| {
        [&e["code"], &e["type"]]
            .into_iter()
            .find_map(|v| v.as_str().filter(|s| identifier(s)))
    });
    match code {
        Some(code) => format!("answered {status} ({code})"),
        None => format!("answered {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_with_or_without_a_version_reach_chat_completions() {
        let cases = [
            (
                "https://api.openai.com",
                "https://api.openai.com/v1/chat/completions",
            ),
            (
                "https://api.openai.com/v1/",
                "https://api.openai.com/v1/chat/completions",
            ),
            (
                "https://dashscope.aliyuncs.com/compatible-mode",
                "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
            ),
            (
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
            ),
            (
                "https://api.deepseek.com",
                "https://api.deepseek.com/v1/chat/completions",
            ),
            (
                "http://127.0.0.1:11434",
                "http://127.0.0.1:11434/v1/chat/completions",
            ),
            (
                "http://vllm:8000/v1",
                "http://vllm:8000/v1/chat/completions",
            ),
            (
                "https://qianfan.baidubce.com/v2",
                "https://qianfan.baidubce.com/v2/chat/completions",
            ),
            (
                "http://h/x/v1/chat/completions",
                "http://h/x/v1/chat/completions",
            ),
            ("http://h/vision", "http://h/vision/v1/chat/completions"),
        ];
        for (base, url) in cases {
            assert_eq!(chat_url(base), url, "{base}");
        }
    }

    #[test]
    fn the_body_is_a_system_and_a_user_message_with_the_settings() {
        let b = body(
            "qwen-plus",
            0.7,
            500,
            "你是客服",
            "【买家消息开始】\n在吗\n【买家消息结束】",
        );
        assert_eq!(
            b,
            json!({ "model": "qwen-plus", "messages": [
                { "role": "system", "content": "你是客服" },
                { "role": "user", "content": "【买家消息开始】\n在吗\n【买家消息结束】" },
            ], "temperature": 0.7, "max_tokens": 500, "stream": false })
        );
    }

    #[test]
    fn answers_are_read_from_the_first_choice() {
        let ok = json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": "您好，48小时内发货。" }, "finish_reason": "stop" }] });
        assert_eq!(parse_answer(&ok).unwrap(), "您好，48小时内发货。");
        for bad in [
            json!({ "choices": [] }),
            json!({ "choices": [{ "message": { "content": "  " } }] }),
            json!({ "choices": [{ "message": { "content": null } }] }),
            json!({ "choices": [{ "message": { "content": "部分" }, "finish_reason": "content_filter" }] }),
            json!({ "error": { "message": "x" } }),
        ] {
            assert!(parse_answer(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_keep_the_status_and_an_identifier_never_the_message() {
        let body = json!({ "error": { "message": "买家说：我的手机号13800000000", "type": "invalid_request_error", "code": "invalid_api_key" } });
        let reason = error_reason("401 Unauthorized", Some(&body));
        assert_eq!(reason, "answered 401 Unauthorized (invalid_api_key)");
        let typed = json!({ "error": { "message": "m", "type": "server_error", "code": null } });
        assert_eq!(
            error_reason("500 Internal Server Error", Some(&typed)),
            "answered 500 Internal Server Error (server_error)"
        );
        // Ollama's `{"error": "<text>"}` and prose codes are dropped.
        let prose = json!({ "error": { "code": "model 'qwen' was not found, try pulling it" } });
        assert_eq!(
            error_reason("404 Not Found", Some(&prose)),
            "answered 404 Not Found"
        );
        assert_eq!(
            error_reason(
                "404 Not Found",
                Some(&json!({ "error": "model not found" }))
            ),
            "answered 404 Not Found"
        );
        assert_eq!(
            error_reason("502 Bad Gateway", None),
            "answered 502 Bad Gateway"
        );
    }
}
