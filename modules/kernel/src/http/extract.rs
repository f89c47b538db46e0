//! Error handlers for actix's extractors, so that malformed JSON, wrong types, missing
//! fields, unknown enum values, bad query strings and oversize bodies are 4xx envelopes
//! with a useful `details`, never actix's plain-text defaults.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::json;

use crate::error::AppError;

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| json_error(err, limit).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| query_error(err).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| path_error(err).into())
}

fn json_error(err: JsonPayloadError, limit: usize) -> AppError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("request body exceeds {limit} bytes"),
            )
            .with_details(json!({ "limit_bytes": limit }))
        }
        JsonPayloadError::ContentType => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            let position = json!({ "line": e.line(), "column": e.column() });
            if e.is_syntax() || e.is_eof() {
                AppError::bad_request("MALFORMED_JSON", "request body is not valid JSON")
                    .with_details(position)
            } else {
                AppError::bad_request(
                    "INVALID_REQUEST_BODY",
                    "request body does not match the expected schema",
                )
                .with_details(json!({
                    "reason": e.to_string(),
                    "line": e.line(),
                    "column": e.column(),
                }))
            }
        }
        other => AppError::bad_request("INVALID_REQUEST_BODY", "request body could not be read")
            .with_details(json!({ "reason": other.to_string() })),
    }
}

fn query_error(err: QueryPayloadError) -> AppError {
    AppError::bad_request("INVALID_QUERY", "query string is invalid")
        .with_details(json!({ "reason": err.to_string() }))
}

fn path_error(err: PathError) -> AppError {
    AppError::bad_request("INVALID_PATH_PARAMETER", "a path parameter is invalid")
        .with_details(json!({ "reason": err.to_string() }))
}
