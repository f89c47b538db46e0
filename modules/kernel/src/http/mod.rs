//! HTTP plumbing shared by every module: request context (request id, error envelope,
//! panic guard, access log), extractor error handlers, pagination.

pub mod context;
pub mod extract;
pub mod pagination;

pub use context::{RequestContext, RequestId};
