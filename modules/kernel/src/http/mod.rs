//! HTTP plumbing shared by every module: request context (request id, error envelope,
//! panic guard, access log, metrics), extractor error handlers, pagination, rate limits,
//! security headers and CORS.

pub mod context;
pub mod extract;
pub mod head_guard;
pub mod pagination;
pub mod rate_limit;
pub mod security;
pub mod server;

pub use context::{KeepBody, RequestContext, RequestId};
