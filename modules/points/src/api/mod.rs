//! HTTP handlers of `/api/v1/points`: extract, authorise, validate, call the service.

pub mod contact;
pub mod levels;
pub mod ops;
pub mod reads;
pub mod tags;

use actix_web::HttpRequest;
use serde::Serialize;
use shopops_kernel::auth::Principal;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest};
use shopops_kernel::{AppError, AppResult};

use crate::service::Operator;

/// The write's idempotency key: the `Idempotency-Key` header, else the body's
/// `operation_id`. Keys are the tenant's (any client of the tenant retrying the same
/// operation is deduplicated), per operation.
pub(crate) fn idempotency(
    req: &HttpRequest,
    principal: &Principal,
    operation: &str,
    operation_id: Option<&str>,
    body: &impl Serialize,
) -> AppResult<Option<IdempotencyRequest>> {
    let header = idempotency::header_key(req)?;
    let key = match (header, operation_id) {
        (Some(h), Some(o)) if h != o => {
            return Err(AppError::bad_request(
                "INVALID_IDEMPOTENCY_KEY",
                "Idempotency-Key and operation_id differ; send one, or the same value",
            ))
        }
        (Some(h), _) => Some(h),
        (None, Some(o)) if !o.trim().is_empty() && o.len() <= 255 => Some(o.trim().to_string()),
        (None, Some(_)) => {
            return Err(AppError::bad_request(
                "INVALID_IDEMPOTENCY_KEY",
                "operation_id must be 1 to 255 characters",
            ))
        }
        (None, None) => None,
    };
    Ok(key.map(|k| {
        IdempotencyRequest::new(
            format!("{}:points:{operation}", principal.tenant_id),
            k,
            body,
        )
    }))
}

pub(crate) fn operator<'a>(
    ctx: &'a RequestContext,
    principal: &Principal,
    key: Option<&IdempotencyRequest>,
) -> Operator<'a> {
    Operator {
        ctx,
        actor: principal.actor(),
        tenant_id: principal.tenant_id,
        idempotency_key: key.map(|k| k.key().to_string()),
    }
}
