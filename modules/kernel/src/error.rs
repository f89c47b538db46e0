//! The one error type every handler returns, and the envelope of seed 001 it renders to.
//!
//! Handlers return [`AppError`]; its `error_response` only records the error (status,
//! code, message, details) in the response's extensions. The request-context middleware
//! (`http::context`) renders every 4xx/5xx into the envelope, adding the request id,
//! timestamp and documentation URL, so that actix's own errors (unknown route, 405,
//! payload errors) and caught panics get the same shape.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// What the envelope says about one failure.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: Cow<'static, str>,
    pub message: String,
    pub details: Value,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Boxed: errors travel in every `Result`, and a `Value` with ordered maps is large.
    pub details: Box<Value>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            details: Box::new(json!({})),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        *self.details = details;
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422 `VALIDATION_ERROR` with `field_errors` as in seed 001.
    pub fn validation(field_errors: FieldErrors) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "request data failed validation",
        )
        .with_details(json!({ "field_errors": field_errors.into_map() }))
    }

    /// 404 for a missing resource — and for a resource of another tenant.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn invalid_token(message: impl Into<String>, details: Value) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", message).with_details(details)
    }

    pub fn unavailable(dependency: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            format!("{dependency} is unavailable, retry later"),
        )
        .with_details(json!({ "dependency": dependency, "retry_after": 5 }))
    }

    /// 500 without internals: the cause is logged under an error id that the client
    /// can quote to support; the response carries only that id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let error_id = new_error_id();
        tracing::error!(error_id = %error_id, cause = %cause, "internal error");
        internal_with_id(error_id)
    }
}

pub(crate) fn internal_with_id(error_id: String) -> AppError {
    AppError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "internal server error, please retry later",
    )
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

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
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

    fn into_map(self) -> Map<String, Value> {
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
    /// SCREAMING_SNAKE_CASE code; the catalogue is docs/errors.md.
    #[schema(example = "VALIDATION_ERROR")]
    pub code: String,
    pub message: String,
    /// Code-specific fields (see docs/errors.md), `{}` when there are none.
    #[schema(value_type = Object)]
    pub details: Value,
    pub request_id: String,
    #[schema(example = "2026-11-21T16:00:00Z")]
    pub timestamp: String,
    pub documentation_url: String,
}

/// Fallback code for a status that reached the client without an [`AppError`]
/// (actix's own 404/405, a middleware error).
pub(crate) fn body_for_status(status: StatusCode) -> ErrorBody {
    let (code, message) = match status.as_u16() {
        400 => ("BAD_REQUEST", "the request could not be understood"),
        401 => ("INVALID_TOKEN", "authentication is required"),
        403 => ("INSUFFICIENT_PERMISSIONS", "access denied"),
        404 => ("ROUTE_NOT_FOUND", "no such route"),
        405 => ("METHOD_NOT_ALLOWED", "method not allowed on this route"),
        408 => ("CLIENT_TIMEOUT", "the request took too long to arrive"),
        413 => ("PAYLOAD_TOO_LARGE", "request body is too large"),
        415 => ("UNSUPPORTED_MEDIA_TYPE", "unsupported content type"),
        429 => ("RATE_LIMIT_EXCEEDED", "too many requests"),
        431 => ("HEADERS_TOO_LARGE", "request headers are too large"),
        500 => ("INTERNAL_SERVER_ERROR", "internal server error"),
        502 => ("BAD_GATEWAY", "an upstream service failed"),
        503 => ("SERVICE_UNAVAILABLE", "service temporarily unavailable"),
        504 => ("GATEWAY_TIMEOUT", "an upstream service timed out"),
        s if s < 500 => ("BAD_REQUEST", "the request was rejected"),
        _ => ("INTERNAL_SERVER_ERROR", "internal server error"),
    };
    ErrorBody {
        code: Cow::Borrowed(code),
        message: message.into(),
        details: json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_collect_messages_per_field() {
        let mut errors = FieldErrors::new();
        errors.add("username", "is required");
        errors.add("username", "must be at most 64 characters");
        errors.add("password", "too short");
        let err = errors.into_result().unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.code, "VALIDATION_ERROR");
        assert_eq!(
            err.details["field_errors"]["username"],
            json!(["is required", "must be at most 64 characters"])
        );
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
