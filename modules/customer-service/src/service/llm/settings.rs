//! `[cs.llm]`: the reply length and the LLM providers by name (docs/configuration.md,
//! docs/customer-service.md "LLM replies"). Read with the rest of `[cs]`; nested keys
//! come from the environment with `__` between levels
//! (`CS_LLM__PROVIDERS__QWEN__API_KEY` → `llm.providers.qwen.api_key`).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use shopops_kernel::config::ConfigError;

/// The always-present deterministic provider; no configured provider may take its name.
pub const STUB: &str = "stub";

/// ERNIE's documented limits (Qianfan's classic chat API): `system` at most 1024
/// characters, `max_output_tokens` 2 to 2048, `temperature` in (0, 1].
pub const ERNIE_SYSTEM_MAX_CHARS: usize = 1024;
pub const ERNIE_MAX_OUTPUT_TOKENS: u32 = 2048;

/// Which protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI-compatible `POST …/v1/chat/completions` (OpenAI, DashScope/Qwen, DeepSeek,
    /// Ollama, vLLM, Qianfan v2).
    Openai,
    /// Baidu ERNIE through Qianfan's classic API (access token from API Key + Secret Key).
    Ernie,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Ernie => "ernie",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// Replies are cut to this many characters (at a sentence end when one is near).
    pub max_reply_chars: usize,
    /// Providers by name: the names a shop's `ai_model` may take (besides `stub`).
    pub providers: BTreeMap<String, ProviderSettings>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            max_reply_chars: 500,
            providers: BTreeMap::new(),
        }
    }
}

/// One provider. Which fields are required depends on `kind` (checked by `validate`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// openai: required (no default: a missing URL must not send a Qwen key to OpenAI);
    /// ernie: `https://aip.baidubce.com`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// openai: the bearer key, optional for local servers; ernie: the app's API Key.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// ernie only: the app's Secret Key.
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    /// openai: the model name sent with each request; ernie: the endpoint name that
    /// ends the chat URL (`completions_pro`, `ernie-4.0-8k` …).
    #[serde(default)]
    pub model: String,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Per attempt, connecting included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Repeats after a 429, a 5xx, a timeout or a network error.
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
}

fn default_temperature() -> f64 {
    0.7
}
fn default_max_tokens() -> u32 {
    500
}
fn default_timeout_secs() -> u64 {
    30
}
/// OpenAI's and DashScope's SDKs retry twice by default; we do the same.
fn default_max_retries() -> usize {
    2
}

pub const ERNIE_DEFAULT_BASE_URL: &str = "https://aip.baidubce.com";

impl ProviderSettings {
    /// The base URL in use (ernie's default when none is given), without a trailing `/`.
    pub fn base_url(&self) -> String {
        let base = match (&self.base_url, self.kind) {
            (Some(url), _) => url.as_str(),
            (None, ProviderKind::Ernie) => ERNIE_DEFAULT_BASE_URL,
            (None, ProviderKind::Openai) => "",
        };
        base.trim_end_matches('/').to_string()
    }
}

impl LlmSettings {
    /// Checks every rule, naming the first bad key like the rest of the configuration:
    /// ``key `cs.llm.providers.qwen.temperature` (env CS_LLM__PROVIDERS__QWEN__TEMPERATURE): …``.
    /// Values are never part of the message (some are secrets).
    pub fn validate(&self, section: &str, env_prefix: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| {
            Err(ConfigError::Invalid(format!(
                "key `{section}.{key}` (env {env_prefix}{}): {why}",
                key.replace('.', "__").to_ascii_uppercase()
            )))
        };
        if !(20..=4000).contains(&self.max_reply_chars) {
            return bad("llm.max_reply_chars", "must be 20 to 4000");
        }
        for (name, p) in &self.providers {
            let key = |field: &str| format!("llm.providers.{name}.{field}");
            if name == STUB {
                return bad(
                    &format!("llm.providers.{name}"),
                    "`stub` is the built-in deterministic provider; choose another name",
                );
            }
            if !valid_name(name) {
                return bad(
                    &format!("llm.providers.{name}"),
                    "a provider name is 1 to 32 of a-z, 0-9, `_`, `-` (no `__`: it separates levels in variable names)",
                );
            }
            match &p.base_url {
                None if p.kind == ProviderKind::Openai => {
                    return bad(&key("base_url"), "is required for kind = \"openai\"");
                }
                Some(url) if !valid_base_url(url) => {
                    return bad(
                        &key("base_url"),
                        "must be an http:// or https:// URL with a host, no query and no fragment",
                    );
                }
                _ => {}
            }
            let empty = |s: &Option<SecretString>| {
                s.as_ref()
                    .is_some_and(|s| secrecy::ExposeSecret::expose_secret(s).trim().is_empty())
            };
            if empty(&p.api_key) {
                return bad(
                    &key("api_key"),
                    "is empty (leave it out for a server without keys)",
                );
            }
            if empty(&p.secret_key) {
                return bad(&key("secret_key"), "is empty");
            }
            match p.kind {
                ProviderKind::Openai => {
                    if p.secret_key.is_some() {
                        return bad(&key("secret_key"), "is only for kind = \"ernie\"");
                    }
                    if !(0.0..=2.0).contains(&p.temperature) {
                        return bad(&key("temperature"), "must be 0 to 2");
                    }
                    if !(1..=8192).contains(&p.max_tokens) {
                        return bad(&key("max_tokens"), "must be 1 to 8192");
                    }
                }
                ProviderKind::Ernie => {
                    if p.api_key.is_none() {
                        return bad(
                            &key("api_key"),
                            "is required for kind = \"ernie\" (the app's API Key)",
                        );
                    }
                    if p.secret_key.is_none() {
                        return bad(
                            &key("secret_key"),
                            "is required for kind = \"ernie\" (the app's Secret Key)",
                        );
                    }
                    // ERNIE refuses 0 and anything above 1.
                    if !(p.temperature > 0.0 && p.temperature <= 1.0) {
                        return bad(
                            &key("temperature"),
                            "must be above 0 and at most 1 for ERNIE",
                        );
                    }
                    if !(2..=ERNIE_MAX_OUTPUT_TOKENS).contains(&p.max_tokens) {
                        return bad(&key("max_tokens"), "must be 2 to 2048 for ERNIE");
                    }
                }
            }
            if p.model.trim().is_empty() {
                return bad(
                    &key("model"),
                    "is required (ernie: the endpoint name, e.g. completions_pro)",
                );
            }
            if p.model.chars().count() > 128
                || p.model.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return bad(
                    &key("model"),
                    "must be at most 128 characters without spaces",
                );
            }
            // The endpoint ends the chat URL's path: nothing that would change the URL.
            if p.kind == ProviderKind::Ernie
                && !p
                    .model
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return bad(
                    &key("model"),
                    "an ERNIE endpoint name is made of a-z, 0-9, `.`, `_`, `-`",
                );
            }
            if !(1..=600).contains(&p.timeout_secs) {
                return bad(&key("timeout_secs"), "must be 1 to 600");
            }
            if p.max_retries > 5 {
                return bad(&key("max_retries"), "must be 0 to 5");
            }
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && !name.contains("__")
}

fn valid_base_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with(':')
        && !url.contains(['?', '#'])
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(providers: serde_json::Value) -> LlmSettings {
        serde_json::from_value(json!({ "providers": providers })).unwrap()
    }

    fn error(s: &LlmSettings) -> String {
        s.validate("cs", "CS_").unwrap_err().to_string()
    }

    fn qwen(extra: serde_json::Value) -> LlmSettings {
        let mut p = json!({ "kind": "openai", "base_url": "https://dashscope.aliyuncs.com/compatible-mode",
            "api_key": "sk-secret-value", "model": "qwen-plus" });
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        settings(json!({ "qwen": p }))
    }

    #[test]
    fn defaults_and_a_full_provider_are_valid() {
        let s = LlmSettings::default();
        assert_eq!(s.max_reply_chars, 500);
        s.validate("cs", "CS_").unwrap();
        let s = qwen(json!({}));
        s.validate("cs", "CS_").unwrap();
        let p = &s.providers["qwen"];
        assert_eq!(
            (p.temperature, p.max_tokens, p.timeout_secs, p.max_retries),
            (0.7, 500, 30, 2)
        );
        let ernie = settings(
            json!({ "wenxin": { "kind": "ernie", "api_key": "ak", "secret_key": "sk", "model": "completions_pro" } }),
        );
        ernie.validate("cs", "CS_").unwrap();
        assert_eq!(
            ernie.providers["wenxin"].base_url(),
            "https://aip.baidubce.com"
        );
        // A local server needs no key.
        settings(json!({ "local": { "kind": "openai", "base_url": "http://127.0.0.1:11434/", "model": "qwen2.5:7b" } }))
            .validate("cs", "CS_")
            .unwrap();
    }

    #[test]
    fn each_rule_names_its_key_and_variable_and_never_a_value() {
        let cases = [
            (
                qwen(json!({ "temperature": 2.5 })),
                "cs.llm.providers.qwen.temperature",
                "CS_LLM__PROVIDERS__QWEN__TEMPERATURE",
            ),
            (
                qwen(json!({ "max_tokens": 0 })),
                "cs.llm.providers.qwen.max_tokens",
                "CS_LLM__PROVIDERS__QWEN__MAX_TOKENS",
            ),
            (
                qwen(json!({ "max_tokens": 8193 })),
                "cs.llm.providers.qwen.max_tokens",
                "",
            ),
            (
                qwen(json!({ "base_url": "ftp://x" })),
                "cs.llm.providers.qwen.base_url",
                "",
            ),
            (
                qwen(json!({ "base_url": "https://x/v1?key=1" })),
                "cs.llm.providers.qwen.base_url",
                "",
            ),
            (
                qwen(json!({ "base_url": "https://" })),
                "cs.llm.providers.qwen.base_url",
                "",
            ),
            (
                qwen(json!({ "model": "" })),
                "cs.llm.providers.qwen.model",
                "",
            ),
            (
                qwen(json!({ "model": "qwen plus" })),
                "cs.llm.providers.qwen.model",
                "",
            ),
            (
                qwen(json!({ "api_key": " " })),
                "cs.llm.providers.qwen.api_key",
                "",
            ),
            (
                qwen(json!({ "secret_key": "sk-secret-value" })),
                "cs.llm.providers.qwen.secret_key",
                "",
            ),
            (
                qwen(json!({ "timeout_secs": 0 })),
                "cs.llm.providers.qwen.timeout_secs",
                "",
            ),
            (
                qwen(json!({ "max_retries": 6 })),
                "cs.llm.providers.qwen.max_retries",
                "",
            ),
        ];
        for (s, key, env) in cases {
            let e = error(&s);
            assert!(e.contains(key), "{e}");
            assert!(e.contains(env), "{e}");
            assert!(!e.contains("sk-secret-value"), "{e}");
        }
        let no_url = settings(json!({ "qwen": { "kind": "openai", "model": "m" } }));
        assert!(error(&no_url).contains("cs.llm.providers.qwen.base_url"));
        let mut short = LlmSettings {
            max_reply_chars: 19,
            ..Default::default()
        };
        assert!(error(&short).contains("cs.llm.max_reply_chars` (env CS_LLM__MAX_REPLY_CHARS)"));
        short.max_reply_chars = 4001;
        assert!(error(&short).contains("cs.llm.max_reply_chars"));
    }

    #[test]
    fn names_are_checked_and_stub_is_reserved() {
        let p = json!({ "kind": "openai", "base_url": "http://h", "model": "m" });
        for name in ["stub", "Qwen", "a__b", "", "x.y", &"a".repeat(33)] {
            let s = settings(json!({ name: p.clone() }));
            assert!(
                error(&s).contains(&format!("cs.llm.providers.{name}`")),
                "{name}"
            );
        }
        for name in ["qwen", "deep-seek", "local_1"] {
            settings(json!({ name: p.clone() }))
                .validate("cs", "CS_")
                .unwrap();
        }
    }

    #[test]
    fn ernie_needs_both_keys_and_its_own_ranges() {
        let ernie = |extra: serde_json::Value| {
            let mut p = json!({ "kind": "ernie", "api_key": "ak", "secret_key": "sk", "model": "completions_pro" });
            for (k, v) in extra.as_object().unwrap() {
                p[k] = v.clone();
            }
            settings(json!({ "wenxin": p }))
        };
        let mut no_secret = ernie(json!({}));
        no_secret.providers.get_mut("wenxin").unwrap().secret_key = None;
        assert!(error(&no_secret).contains("wenxin.secret_key"));
        let mut no_key = ernie(json!({}));
        no_key.providers.get_mut("wenxin").unwrap().api_key = None;
        assert!(error(&no_key).contains("wenxin.api_key"));
        assert!(error(&ernie(json!({ "temperature": 0.0 }))).contains("wenxin.temperature"));
        assert!(error(&ernie(json!({ "temperature": 1.5 }))).contains("wenxin.temperature"));
        assert!(error(&ernie(json!({ "max_tokens": 1 }))).contains("wenxin.max_tokens"));
        assert!(error(&ernie(json!({ "max_tokens": 4096 }))).contains("wenxin.max_tokens"));
        assert!(error(&ernie(json!({ "model": "chat/../x" }))).contains("wenxin.model"));
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let r: Result<LlmSettings, _> = serde_json::from_value(json!({ "max_reply_char": 5 }));
        assert!(r.unwrap_err().to_string().contains("max_reply_char"));
        let r: Result<LlmSettings, _> = serde_json::from_value(
            json!({ "providers": { "q": { "kind": "openai", "base_url": "http://h", "model": "m", "api_kee": "x" } } }),
        );
        assert!(r.unwrap_err().to_string().contains("api_kee"));
        let r: Result<LlmSettings, _> = serde_json::from_value(
            json!({ "providers": { "q": { "kind": "claude", "model": "m" } } }),
        );
        assert!(r.unwrap_err().to_string().contains("claude"));
    }
}
