//! The platform's answer, classified. The platform envelope is
//! `{"result": 1, "error_msg": "", "data": {...}, "requestId": "..."}` where `result == 1`
//! is success and any other number is an error code; older answers carry
//! `error_code`/`error_msg`/`sub_code`/`sub_msg`. Unlike the SDK (which treats
//! `{"result": 28, "error_msg": "access_token已过期"}` as success and never reads `data`),
//! we classify by `result != 1`, fall back to `error_code`, and return `data`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ok {
        /// The answer's `data` exactly as sent (typed readers parse it once).
        data: Box<RawValue>,
        request_id: Option<String>,
    },
    /// An error the caller made or the platform refused (codes kept).
    ApiError {
        code: String,
        message: String,
        sub_code: Option<String>,
        sub_message: Option<String>,
        request_id: Option<String>,
    },
    /// The access token is expired or invalid: refresh it and retry once.
    AuthError { code: String, message: String },
    /// The platform throttled the call.
    RateLimited { code: String, message: String },
    /// The platform failed (5xx after retries, or an answer we cannot read).
    ServerError { status: u16, message: String },
}

impl Outcome {
    /// The outcome's name, for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok { .. } => "ok",
            Outcome::ApiError { .. } => "api_error",
            Outcome::AuthError { .. } => "auth_error",
            Outcome::RateLimited { .. } => "rate_limited",
            Outcome::ServerError { .. } => "server_error",
        }
    }
}

/// Platform result codes of an expired or invalid access token (`result` 28 is
/// "access_token已过期" in its public examples).
const AUTH_CODES: &[&str] = &[
    "28",
    "100200101",
    "100200103",
    "ACCESS_TOKEN_EXPIRED",
    "ACCESS_TOKEN_INVALID",
];
const RATE_CODES: &[&str] = &["429", "rate_limit", "too_many_requests"];

/// The envelope's fields, unparsed: only the small ones are read, and `data` stays the
/// exact text the platform sent, for a typed reader to parse once.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error_code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error_msg: Option<&'a RawValue>,
    #[serde(borrow, default)]
    msg: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sub_code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sub_msg: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestId")]
    request_id_camel: Option<&'a RawValue>,
    #[serde(borrow, default)]
    request_id: Option<&'a RawValue>,
}

/// A small field as text: a non-empty string, or a number.
fn text(field: Option<&RawValue>) -> Option<String> {
    match serde_json::from_str::<Value>(field?.get()).ok()? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_number(raw: &RawValue) -> bool {
    raw.get()
        .trim_start()
        .starts_with(|c: char| c == '-' || c.is_ascii_digit())
}

pub fn classify(status: u16, body: &str) -> Outcome {
    if status == 429 {
        return Outcome::RateLimited {
            code: "429".into(),
            message: "HTTP 429".into(),
        };
    }
    if status != 200 {
        let message: String = body.chars().take(200).collect();
        if status >= 500 {
            return Outcome::ServerError {
                status,
                message: format!("HTTP {status}: {message}"),
            };
        }
        return Outcome::ApiError {
            code: format!("HTTP_{status}"),
            message,
            sub_code: None,
            sub_message: None,
            request_id: None,
        };
    }
    let Ok(v) = serde_json::from_str::<Envelope>(body) else {
        return Outcome::ServerError {
            status,
            message: "the answer is not a JSON object".into(),
        };
    };
    let request_id = text(v.request_id_camel).or_else(|| text(v.request_id));
    let message = text(v.error_msg)
        .or_else(|| text(v.msg))
        .or_else(|| text(v.message))
        .unwrap_or_default();
    let code = match v.result {
        Some(r) if is_number(r) && r.get().trim() != "1" => text(Some(r)),
        _ => text(v.error_code),
    };
    let Some(code) = code else {
        // `data` in the platform envelope; older answers put the value in `result`
        // (an object, a list, or a bool for yes/no methods: `true` stays `true`).
        let data = v
            .data
            .or(v.result.filter(|r| !is_number(r)))
            .map(|raw| raw.to_owned())
            .unwrap_or_else(null);
        return Outcome::Ok { data, request_id };
    };
    let sub_code = text(v.sub_code);
    let token_sub = sub_code
        .as_deref()
        .is_some_and(|s| s.starts_with("isv.access-token"));
    if AUTH_CODES.contains(&code.as_str()) || token_sub || message.contains("access_token") {
        return Outcome::AuthError { code, message };
    }
    if RATE_CODES.contains(&code.as_str()) {
        return Outcome::RateLimited { code, message };
    }
    Outcome::ApiError {
        code,
        message,
        sub_code,
        sub_message: text(v.sub_msg),
        request_id,
    }
}

/// JSON `null` as a raw value.
pub fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).unwrap_or_else(|_| unreachable!("null is JSON"))
}
