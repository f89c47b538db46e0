//! The one error type every handler returns, and the envelope it renders to.
//!
//! Handlers return [`AppError`], made from a code of the catalogue ([`catalogue`]:
//! the kernel's [`Code`] table and each module's). Its `error_response` only records
//! the error (status, code, message in both languages, details) in the response's
//! extensions; the request-context middleware (`http::context`) renders every 4xx/5xx
//! into the envelope in the caller's language, adding the request id, timestamp and
//! documentation URL, so that actix's own errors (unknown route, 405, payload errors)
//! and caught panics get the same shape.

pub mod catalogue;
mod codes;

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

pub use catalogue::{Catalogue, ErrorCode, Lang, Localized};
pub use codes::Code;

/// The kernel's part of the catalogue.
pub const CATALOGUE: Catalogue = Catalogue {
    owner: "kernel",
    codes: Code::ALL,
};

/// What the envelope says about one failure, before a language is chosen.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: Cow<'static, str>,
    pub message: Localized,
    /// May hold localized texts (see [`Localized::to_value`]), resolved at rendering.
    pub details: Value,
}

impl ErrorBody {
    /// The envelope's `code`, `message` and `details` in `lang`.
    pub fn render(&self, lang: Lang) -> (String, Value) {
        let mut details = self.details.clone();
        localize(&mut details, lang);
        let message = catalogue::fill(self.message.get(lang), &details);
        (message, details)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {}", message.en)]
pub struct AppError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: Localized,
    /// Boxed: errors travel in every `Result`, and a `Value` with ordered maps is large.
    pub details: Box<Value>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// The error of a catalogue code, with the catalogue's message and no details.
    pub fn from_code(code: &'static ErrorCode) -> Self {
        Self {
            status: StatusCode::from_u16(code.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: Cow::Borrowed(code.code),
            message: Localized::fixed(code.zh, code.en),
            details: Box::new(json!({})),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        *self.details = details;
        self
    }

    /// A message more precise than the catalogue's, in both languages.
    pub fn with_message(mut self, message: Localized) -> Self {
        self.message = message;
        self
    }

    /// 422 `VALIDATION_ERROR` with `field_errors`.
    pub fn validation(field_errors: FieldErrors) -> Self {
        Code::ValidationError
            .err()
            .with_details(json!({ "field_errors": field_errors.into_map() }))
    }

    /// 404 for a missing resource — and for a resource of another tenant. `what` names
    /// it in `details.resource` (an identifier such as `user`, not prose).
    pub fn not_found(what: &str) -> Self {
        Code::ResourceNotFound
            .err()
            .with_details(json!({ "resource": what }))
    }

    pub fn invalid_token(message: Localized, details: Value) -> Self {
        Code::InvalidToken
            .err()
            .with_message(message)
            .with_details(details)
    }

    /// 503: a dependency (database, Redis, an outside system) is down.
    pub fn unavailable(dependency: &str) -> Self {
        Code::ServiceUnavailable
            .err()
            .with_details(json!({ "dependency": dependency, "retry_after": 5 }))
    }

    /// 500 without internals: the cause is logged under an error id that the client
    /// can quote to support; the response carries only that id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let error_id = new_error_id();
        tracing::error!(error_id = %error_id, cause = %cause, "internal error");
        internal_with_id(error_id)
    }

    /// The error as a JSON object (code, both messages, details), e.g. for one item of
    /// a batch answer or an idempotent replay; [`AppError::from_stored`] reads it back.
    pub fn to_stored(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message.to_value(),
            "details": *self.details,
        })
    }

    /// Reads what [`AppError::to_stored`] wrote.
    pub fn from_stored(status: StatusCode, stored: &Value) -> Self {
        let code = stored["code"]
            .as_str()
            .unwrap_or("INTERNAL_SERVER_ERROR")
            .to_string();
        let message = Localized::from_value(&stored["message"]).unwrap_or_else(|| {
            let text = stored["message"].as_str().unwrap_or_default().to_string();
            Localized::owned(text.clone(), text)
        });
        Self {
            status,
            code: Cow::Owned(code),
            message,
            details: Box::new(stored["details"].clone()),
        }
    }
}

pub(crate) fn internal_with_id(error_id: String) -> AppError {
    Code::InternalServerError
        .err()
        .with_details(json!({ "error_id": error_id, "retry_after": 30 }))
}

pub(crate) fn new_error_id() -> String {
    format!(
        "ERR_{}_{}",
        chrono::Utc::now().format("%Y%m%d_%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::new(self.status);
        // Throttling and unavailability tell the client when to come back.
        if matches!(self.status.as_u16(), 429 | 503) {
            if let Some(secs) = self.details.get("retry_after").and_then(Value::as_u64) {
                res.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(secs),
                );
            }
        }
        res.extensions_mut().insert(ErrorBody {
            code: self.code.clone(),
            message: self.message.clone(),
            details: (*self.details).clone(),
        });
        res
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::error!(cause = %err, "database unavailable");
            return AppError::unavailable("database");
        }
        AppError::internal(err)
    }
}

fn is_unavailable(err: &sea_orm::DbErr) -> bool {
    matches!(
        err,
        sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_)
    )
}

/// The key that marks a text in both languages inside `details`.
const L10N_KEY: &str = "__l10n";

impl Localized {
    /// A JSON stand-in for this text, resolved to one language when the envelope is
    /// rendered ([`localize`]), so texts inside `details` follow `Accept-Language` too.
    pub fn to_value(&self) -> Value {
        json!({ L10N_KEY: [self.zh, self.en] })
    }

    pub fn from_value(value: &Value) -> Option<Self> {
        let pair = value.get(L10N_KEY)?.as_array()?;
        Some(Localized::owned(
            pair.first()?.as_str()?.to_string(),
            pair.get(1)?.as_str()?.to_string(),
        ))
    }
}

/// The error's details with every text in `lang` (tests, and answers that embed
/// errors, such as a batch's per-item results).
pub fn rendered(err: &AppError, lang: Lang) -> Value {
    let mut details = (*err.details).clone();
    localize(&mut details, lang);
    details
}

/// Replaces every localized text inside `value` with its `lang` version.
pub fn localize(value: &mut Value, lang: Lang) {
    match value {
        Value::Object(map) => {
            if let Some(text) = Localized::from_value(&Value::Object(map.clone())) {
                *value = Value::String(text.get(lang).to_string());
                return;
            }
            map.values_mut().for_each(|v| localize(v, lang));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| localize(v, lang)),
        _ => {}
    }
}

/// True when the database refused a write because of a unique constraint.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Collects per-field messages for a 422 `VALIDATION_ERROR`.
#[derive(Debug, Default)]
pub struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message (both languages, e.g. from [`tr!`](crate::tr)) for `field`.
    pub fn add(&mut self, field: &str, message: Localized) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = entry {
            list.push(message.to_value());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was added, the 422 error otherwise.
    pub fn into_result(self) -> AppResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(self))
        }
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

/// The error envelope, as documented in the OpenAPI spec.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// SCREAMING_SNAKE_CASE code; the catalogue is docs/errors.md (the server's spec
    /// lists every code as this field's enum).
    #[schema(example = "VALIDATION_ERROR")]
    pub code: String,
    /// In the language `Accept-Language` asks for (`zh-CN` or `en`; default
    /// `SHOPOPS_DEFAULT_LANGUAGE`); the response's `Content-Language` says which.
    pub message: String,
    /// Code-specific fields (see docs/errors.md), `{}` when there are none.
    #[schema(value_type = Object, additional_properties = true)]
    pub details: Value,
    pub request_id: String,
    #[schema(example = "2026-11-21T16:00:00Z")]
    pub timestamp: String,
    pub documentation_url: String,
}

/// Fallback for a status that reached the client without an [`AppError`] (actix's
/// own 404/405, a middleware error). A 413 there is actix's raw-body limit,
/// `max_body_bytes`.
pub(crate) fn body_for_status(status: StatusCode, max_body_bytes: usize) -> ErrorBody {
    let code = match status.as_u16() {
        400 => Code::BadRequest,
        401 => Code::InvalidToken,
        403 => Code::InsufficientPermissions,
        404 => Code::RouteNotFound,
        405 => Code::MethodNotAllowed,
        408 => Code::ClientTimeout,
        413 => Code::PayloadTooLarge,
        414 => Code::UriTooLong,
        415 => Code::UnsupportedMediaType,
        429 => Code::RateLimitExceeded,
        431 => Code::HeadersTooLarge,
        502 => Code::BadGateway,
        503 => Code::ServiceUnavailable,
        504 => Code::GatewayTimeout,
        s if s < 500 => Code::BadRequest,
        _ => Code::InternalServerError,
    };
    let def = code.def();
    ErrorBody {
        code: Cow::Borrowed(def.code),
        message: Localized::fixed(def.zh, def.en),
        details: match code {
            Code::PayloadTooLarge => json!({ "limit_bytes": max_body_bytes }),
            _ => json!({}),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_details_and_survive_being_stored() {
        let err = AppError::not_found("user");
        let stored = err.to_stored();
        let back = AppError::from_stored(StatusCode::NOT_FOUND, &stored);
        assert_eq!(back.code, "RESOURCE_NOT_FOUND");
        let body = ErrorBody {
            code: back.code.clone(),
            message: back.message.clone(),
            details: (*back.details).clone(),
        };
        assert_eq!(body.render(Lang::En).0, "user not found");
        assert_eq!(body.render(Lang::Zh).0, "未找到该资源（user）");
    }

    #[test]
    fn field_errors_collect_messages_per_field() {
        let mut errors = FieldErrors::new();
        errors.add("username", Localized::fixed("必填", "is required"));
        errors.add(
            "username",
            Localized::fixed("最多 64 个字符", "must be at most 64 characters"),
        );
        errors.add("password", Localized::fixed("太短", "too short"));
        let err = errors.into_result().unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.code, "VALIDATION_ERROR");
        let body = ErrorBody {
            code: err.code.clone(),
            message: err.message.clone(),
            details: (*err.details).clone(),
        };
        let (message, details) = body.render(Lang::En);
        assert_eq!(message, "request data failed validation");
        assert_eq!(
            details["field_errors"]["username"],
            json!(["is required", "must be at most 64 characters"])
        );
        let (message, details) = body.render(Lang::Zh);
        assert_eq!(message, "请求数据未通过校验");
        assert_eq!(details["field_errors"]["password"], json!(["太短"]));
        assert!(FieldErrors::new().into_result().is_ok());
    }

    #[test]
    fn internal_errors_carry_only_an_error_id() {
        let err = AppError::internal("password=hunter2 leaked in cause");
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = err.details.to_string();
        assert!(!text.contains("hunter2"));
        assert!(err.details["error_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ERR_")));
    }
}
