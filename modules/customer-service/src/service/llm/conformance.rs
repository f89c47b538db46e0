//! What the providers require of a request, as plain checks over its path, query,
//! `Authorization` header and JSON body, with the answers they give. Local stand-ins
//! (this module's tests, the end-to-end tests) use them to refuse a request the
//! way the provider would, so a test passes only when the real provider would accept
//! what we send. No HTTP types: any server framework can call them.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::ernie::{chat_path, TOKEN_PATH};
use super::prompt::read_user_message;
use super::settings::{ERNIE_MAX_OUTPUT_TOKENS, ERNIE_SYSTEM_MAX_CHARS};
use super::KbContext;

/// A refusal in the provider's own format.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub body: Value,
}

/// What a checked chat request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub system: String,
    /// The user message as sent.
    pub user: String,
    /// The reference entry, read back from the user message.
    pub kb_context: Option<KbContext>,
    /// The buyer's message, read back from the user message.
    pub message: String,
}

/// An OpenAI-compatible server: the path it serves, its key (none: a local server that
/// takes none), the model it runs.
pub struct OpenAiServer<'a> {
    pub path: &'a str,
    pub api_key: Option<&'a str>,
    pub model: &'a str,
}

fn openai_error(status: u16, kind: &str, code: &str, message: &str) -> Refusal {
    Refusal {
        status,
        body: json!({ "error": { "message": message, "type": kind, "param": null, "code": code } }),
    }
}

/// `POST {path}` as OpenAI (and DashScope, DeepSeek, vLLM) check it: bearer key, known
/// model, `messages` of system/user/assistant with string contents ending with a user
/// message, `temperature` 0–2, `max_tokens` ≥ 1, no streaming. Our requests are then
/// read back: one system and one user message built by `prompt::user_message`.
pub fn check_openai_chat(
    server: &OpenAiServer<'_>,
    path: &str,
    authorization: Option<&str>,
    body: &Value,
) -> Result<Seen, Refusal> {
    if path != server.path {
        return Err(openai_error(
            404,
            "invalid_request_error",
            "not_found",
            "unknown path",
        ));
    }
    if let Some(key) = server.api_key {
        if authorization != Some(format!("Bearer {key}").as_str()) {
            return Err(openai_error(
                401,
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect API key provided.",
            ));
        }
    }
    if body["model"] != server.model {
        return Err(openai_error(
            404,
            "invalid_request_error",
            "model_not_found",
            "The model does not exist.",
        ));
    }
    let invalid = |what: &str| openai_error(400, "invalid_request_error", "invalid_value", what);
    let messages = body["messages"]
        .as_array()
        .ok_or_else(|| invalid("messages must be an array"))?;
    for m in messages {
        if !["system", "user", "assistant"].contains(&m["role"].as_str().unwrap_or_default())
            || !m["content"].is_string()
        {
            return Err(invalid(
                "each message needs a known role and a string content",
            ));
        }
    }
    if messages.last().is_none_or(|m| m["role"] != "user") {
        return Err(invalid("the last message must be the user's"));
    }
    if let Some(t) = body.get("temperature") {
        if !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t)) {
            return Err(invalid("temperature must be 0 to 2"));
        }
    }
    if let Some(n) = body.get("max_tokens") {
        if n.as_u64().is_none_or(|n| n < 1) {
            return Err(invalid("max_tokens must be a positive integer"));
        }
    }
    if body["stream"] == true {
        return Err(invalid("this stand-in does not stream"));
    }
    let text = |role: &str| {
        messages
            .iter()
            .filter(|m| m["role"] == role)
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
    };
    let (system, user) = (text("system"), text("user"));
    let ([system], [user]) = (system.as_slice(), user.as_slice()) else {
        return Err(invalid("expected one system and one user message"));
    };
    seen(system, user).ok_or_else(|| invalid("the user message is not in the expected shape"))
}

fn seen(system: &str, user: &str) -> Option<Seen> {
    let (kb_context, message) = read_user_message(user)?;
    Some(Seen {
        system: system.to_string(),
        user: user.to_string(),
        kb_context,
        message,
    })
}

/// A completion as OpenAI answers it.
pub fn openai_answer(model: &str, text: &str) -> Value {
    json!({
        "id": "chatcmpl-standin", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 },
    })
}

/// An ERNIE app: its API Key, Secret Key and the chat endpoint it may call.
pub struct ErnieServer<'a> {
    pub api_key: &'a str,
    pub secret_key: &'a str,
    pub endpoint: &'a str,
}

/// `POST /oauth/2.0/token?grant_type=client_credentials&client_id=…&client_secret=…`
/// as Baidu checks it (`invalid_client` names which credential is wrong).
pub fn check_ernie_token(
    server: &ErnieServer<'_>,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<(), Refusal> {
    let refuse = |error: &str, description: &str| Refusal {
        status: 401,
        body: json!({ "error": error, "error_description": description }),
    };
    if path != TOKEN_PATH {
        return Err(Refusal {
            status: 404,
            body: json!({}),
        });
    }
    if query.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err(refuse("unsupported_grant_type", "unsupported grant type"));
    }
    if query.get("client_id").map(String::as_str) != Some(server.api_key) {
        return Err(refuse("invalid_client", "unknown client id"));
    }
    if query.get("client_secret").map(String::as_str) != Some(server.secret_key) {
        return Err(refuse("invalid_client", "Client authentication failed"));
    }
    Ok(())
}

/// A token answer as Baidu gives it.
pub fn ernie_token_answer(access_token: &str, expires_in: u64) -> Value {
    json!({ "refresh_token": "25.standin", "expires_in": expires_in, "scope": "public",
        "session_key": "standin", "access_token": access_token, "session_secret": "standin" })
}

fn ernie_error(code: i64, msg: &str) -> Refusal {
    // ERNIE answers its errors with HTTP 200.
    Refusal {
        status: 200,
        body: json!({ "error_code": code, "error_msg": msg }),
    }
}

/// `POST /rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}?access_token=…` as ERNIE
/// checks it: the token (110 unknown, 111 expired: `expired_tokens`), `messages` with
/// an odd count of alternating user/assistant messages ending with a non-blank user
/// one, `system` ≤ 1024 characters, `temperature` in (0, 1], `max_output_tokens` in
/// [2, 2048].
pub fn check_ernie_chat(
    server: &ErnieServer<'_>,
    path: &str,
    query: &HashMap<String, String>,
    valid_token: &str,
    expired_tokens: &[String],
    body: &Value,
) -> Result<Seen, Refusal> {
    if path != chat_path(server.endpoint) {
        return Err(ernie_error(3, "Unsupported openapi method"));
    }
    match query.get("access_token") {
        Some(t) if t == valid_token => {}
        Some(t) if expired_tokens.contains(t) => {
            return Err(ernie_error(111, "Access token expired"))
        }
        _ => return Err(ernie_error(110, "Access token invalid or no longer valid")),
    }
    let invalid = || ernie_error(336003, "Invalid parameter");
    let messages = body["messages"].as_array().ok_or_else(invalid)?;
    let alternating = messages.iter().enumerate().all(|(i, m)| {
        m["role"] == if i % 2 == 0 { "user" } else { "assistant" } && m["content"].is_string()
    });
    let last = messages
        .last()
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    if messages.len() % 2 == 0 || !alternating || last.trim().is_empty() {
        return Err(invalid());
    }
    let system = match body.get("system") {
        None => "",
        Some(s) => s
            .as_str()
            .filter(|s| s.chars().count() <= ERNIE_SYSTEM_MAX_CHARS)
            .ok_or_else(invalid)?,
    };
    if let Some(t) = body.get("temperature") {
        if !t.as_f64().is_some_and(|t| t > 0.0 && t <= 1.0) {
            return Err(invalid());
        }
    }
    if let Some(n) = body.get("max_output_tokens") {
        if !n
            .as_u64()
            .is_some_and(|n| (2..=u64::from(ERNIE_MAX_OUTPUT_TOKENS)).contains(&n))
        {
            return Err(invalid());
        }
    }
    seen(system, last).ok_or_else(invalid)
}

/// A chat answer as ERNIE gives it.
pub fn ernie_answer(text: &str) -> Value {
    json!({ "id": "as-standin", "object": "chat.completion", "created": 1_700_000_000, "result": text,
        "is_truncated": false, "need_clear_history": false, "finish_reason": "normal",
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::llm::{ernie, openai, prompt};

    fn kb() -> KbContext {
        KbContext {
            question: "什么时候发货".into(),
            answer: "48小时内发货".into(),
        }
    }

    #[test]
    fn our_openai_requests_pass_and_others_are_refused_as_openai_would() {
        let server = OpenAiServer {
            path: "/v1/chat/completions",
            api_key: Some("sk-1"),
            model: "m",
        };
        let user = prompt::user_message("几天发货", Some(&kb()), None).unwrap();
        let body = openai::body("m", 0.7, 500, "sys", &user);
        let seen =
            check_openai_chat(&server, "/v1/chat/completions", Some("Bearer sk-1"), &body).unwrap();
        assert_eq!(
            (seen.system.as_str(), seen.message.as_str()),
            ("sys", "几天发货")
        );
        assert_eq!(seen.kb_context, Some(kb()));
        let refused =
            |path, auth, body: &Value| check_openai_chat(&server, path, auth, body).unwrap_err();
        assert_eq!(
            refused("/v1/chat/completions", Some("Bearer sk-2"), &body).status,
            401
        );
        assert_eq!(
            refused("/chat/completions", Some("Bearer sk-1"), &body).status,
            404
        );
        assert_eq!(
            refused(
                "/v1/chat/completions",
                Some("Bearer sk-1"),
                &openai::body("x", 0.7, 5, "s", &user)
            )
            .status,
            404
        );
        assert_eq!(
            refused(
                "/v1/chat/completions",
                Some("Bearer sk-1"),
                &openai::body("m", 2.5, 5, "s", &user)
            )
            .status,
            400
        );
        assert_eq!(
            refused(
                "/v1/chat/completions",
                Some("Bearer sk-1"),
                &openai::body("m", 0.7, 5, "s", "no markers")
            )
            .status,
            400
        );
    }

    #[test]
    fn our_ernie_requests_pass_and_others_are_refused_as_ernie_would() {
        let server = ErnieServer {
            api_key: "ak",
            secret_key: "sk",
            endpoint: "completions_pro",
        };
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let token_query = q(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ak"),
            ("client_secret", "sk"),
        ]);
        check_ernie_token(&server, TOKEN_PATH, &token_query).unwrap();
        let wrong = q(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ak"),
            ("client_secret", "x"),
        ]);
        assert_eq!(
            check_ernie_token(&server, TOKEN_PATH, &wrong)
                .unwrap_err()
                .body["error"],
            "invalid_client"
        );

        let user = prompt::user_message("在吗", None, Some(ernie::USER_MAX_CHARS)).unwrap();
        let body = ernie::body("sys", &user, 0.7, 500);
        let path = "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro";
        let seen = check_ernie_chat(
            &server,
            path,
            &q(&[("access_token", "t1")]),
            "t1",
            &[],
            &body,
        )
        .unwrap();
        assert_eq!(
            (seen.system.as_str(), seen.message.as_str(), seen.kb_context),
            ("sys", "在吗", None)
        );
        let code = |r: Result<Seen, Refusal>| r.unwrap_err().body["error_code"].as_i64().unwrap();
        assert_eq!(
            code(check_ernie_chat(
                &server,
                path,
                &q(&[("access_token", "t0")]),
                "t1",
                &["t0".into()],
                &body
            )),
            111
        );
        assert_eq!(
            code(check_ernie_chat(&server, path, &q(&[]), "t1", &[], &body)),
            110
        );
        let long_system = ernie::body(&"长".repeat(1025), &user, 0.7, 500);
        assert_eq!(
            code(check_ernie_chat(
                &server,
                path,
                &q(&[("access_token", "t1")]),
                "t1",
                &[],
                &long_system
            )),
            336003
        );
        let zero = ernie::body("s", &user, 0.0, 500);
        assert_eq!(
            code(check_ernie_chat(
                &server,
                path,
                &q(&[("access_token", "t1")]),
                "t1",
                &[],
                &zero
            )),
            336003
        );
    }
}
