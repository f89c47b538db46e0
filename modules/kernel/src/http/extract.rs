//! Error handlers for actix's extractors, so that malformed JSON, wrong types, missing
//! fields, unknown enum values, bad query strings and oversize bodies are 4xx envelopes
//! with a useful `details`, never actix's plain-text defaults.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::web;
use serde_json::json;

use crate::error::{AppError, Code};

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
            Code::PayloadTooLarge
                .err()
                .with_details(json!({ "limit_bytes": limit }))
        }
        JsonPayloadError::ContentType => Code::UnsupportedMediaType.err(),
        JsonPayloadError::Deserialize(e) => {
            let position = json!({ "line": e.line(), "column": e.column() });
            if e.is_syntax() || e.is_eof() {
                Code::MalformedJson.err().with_details(position)
            } else {
                Code::InvalidRequestBody.err().with_details(json!({
                    "reason": e.to_string(),
                    "line": e.line(),
                    "column": e.column(),
                }))
            }
        }
        other => Code::InvalidRequestBody
            .err()
            .with_details(json!({ "reason": other.to_string() })),
    }
}

fn query_error(err: QueryPayloadError) -> AppError {
    Code::InvalidQuery
        .err()
        .with_details(json!({ "reason": err.to_string() }))
}

fn path_error(err: PathError) -> AppError {
    Code::InvalidPathParameter
        .err()
        .with_details(json!({ "reason": err.to_string() }))
}
