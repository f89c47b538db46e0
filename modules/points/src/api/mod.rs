//! HTTP handlers of `/api/v1/points`: extract (requests become the domain's values),
//! authorise, call [`crate::service`], map the answer. [`routes`] mounts them;
//! [`ApiDoc`] documents them.

pub mod contact;
pub mod levels;
pub mod ops;
pub mod reads;
pub mod tags;

use actix_web::{web, HttpRequest};
use serde::Serialize;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::Code;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest};
use shopops_kernel::{tr, AppResult, Kernel, Permission, RateBucket};
use utoipa::OpenApi;

use crate::service::settings::{self, Settings};
use crate::service::Operator;

/// The named rate limit every points write counts against, per user.
pub const OPERATIONS_BUCKET: RateBucket = RateBucket {
    name: "points_operations",
    per_hour: 500,
    description: "Points writes (earn, spend, adjust, freeze, unfreeze, reverse, batch-earn) per user per hour",
};

/// Routes, mounted at `/api/v1/points`. One resource per path, so a method the path
/// does not serve is 405, not 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, patch, post, put, resource};
    cfg.service(resource("/earn").route(post().to(ops::earn)))
        .service(resource("/spend").route(post().to(ops::spend)))
        .service(resource("/adjust").route(post().to(ops::adjust)))
        .service(resource("/freeze").route(post().to(ops::freeze)))
        .service(resource("/unfreeze").route(post().to(ops::unfreeze)))
        .service(resource("/batch-earn").route(post().to(ops::batch_earn)))
        .service(resource("/entries/{id}/reverse").route(post().to(ops::reverse)))
        .service(resource("/profiles").route(get().to(contact::lookup)))
        .service(resource("/profiles/{member_id}").route(get().to(reads::get_profile)))
        .service(resource("/profiles/{member_id}/contact").route(put().to(contact::put_contact)))
        .service(resource("/profiles/{member_id}/records").route(get().to(reads::list_records)))
        .service(resource("/profiles/{member_id}/vip-tags").route(post().to(tags::grant_tag)))
        .service(
            resource("/profiles/{member_id}/vip-tags/{tag_type}")
                .route(delete().to(tags::revoke_tag)),
        )
        .service(resource("/user-levels").route(get().to(levels::list_levels)))
        .service(resource("/levels").route(post().to(levels::create_level)))
        .service(
            resource("/levels/{id}")
                .route(patch().to(levels::update_level))
                .route(delete().to(levels::delete_level)),
        )
        .service(
            resource("/vip-tags")
                .route(get().to(tags::list_tags))
                .route(post().to(tags::create_tag)),
        )
        .service(
            resource("/settings")
                .route(get().to(reads::get_settings))
                .route(put().to(reads::put_settings)),
        )
        .service(resource("/integrity").route(get().to(reads::get_integrity)));
}

/// The module's OpenAPI document (paths relative to `/api/v1/points`).
#[derive(OpenApi)]
#[openapi(
    paths(
        ops::earn,
        ops::spend,
        ops::adjust,
        ops::freeze,
        ops::unfreeze,
        ops::batch_earn,
        ops::reverse,
        reads::get_profile,
        reads::list_records,
        reads::get_integrity,
        reads::get_settings,
        reads::put_settings,
        levels::list_levels,
        levels::create_level,
        levels::update_level,
        levels::delete_level,
        tags::list_tags,
        tags::create_tag,
        tags::grant_tag,
        tags::revoke_tag,
        contact::put_contact,
        contact::lookup,
    ),
    tags((name = "points", description = "Points ledger: earn, spend, adjust, freeze, reverse, levels, VIP tags"))
)]
pub struct ApiDoc;

/// What every ledger write checks before its transaction: the permission, the write's
/// rate bucket, and the tenant's settings (bounds, overdraft policy).
async fn prepare_write(
    kernel: &Kernel,
    principal: &Principal,
    permission: &Permission,
) -> AppResult<Settings> {
    principal.require(kernel, permission)?;
    kernel
        .rate_limits
        .bucket(&OPERATIONS_BUCKET, principal)
        .await?;
    settings::get(kernel, &kernel.db, principal.tenant_id).await
}

/// The write's idempotency key: the `Idempotency-Key` header, else the body's
/// `operation_id`. Keys are the tenant's (any client of the tenant retrying the same
/// operation is deduplicated), per operation.
fn idempotency(
    req: &HttpRequest,
    principal: &Principal,
    operation: &str,
    operation_id: Option<&str>,
    body: &impl Serialize,
) -> AppResult<Option<IdempotencyRequest>> {
    let header = idempotency::header_key(req)?;
    let key = match (header, operation_id) {
        (Some(h), Some(o)) if h != o => {
            return Err(Code::InvalidIdempotencyKey.err().with_message(tr!(
                "Idempotency-Key 与 operation_id 不一致；只发送一个，或发送相同的值",
                "Idempotency-Key and operation_id differ; send one, or the same value"
            )))
        }
        (Some(h), _) => Some(h),
        (None, Some(o)) if !o.trim().is_empty() && o.len() <= 255 => Some(o.trim().to_string()),
        (None, Some(_)) => {
            return Err(Code::InvalidIdempotencyKey.err().with_message(tr!(
                "operation_id 必须为 1 到 255 个字符",
                "operation_id must be 1 to 255 characters"
            )))
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

fn operator<'a>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The bounds the checks enforce are the ones the spec declares.
    #[test]
    fn the_spec_declares_the_enforced_bounds() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();
        let earn = schema("EarnRequest");
        assert_eq!(earn["reason"]["maxLength"], 500);
        assert_eq!(earn["member_id"]["maxLength"], 64);
        assert_eq!(earn["points_amount"]["maximum"], 1_000_000_000);
        let batch = schema("BatchEarnRequest");
        assert_eq!(batch["operations"]["maxItems"], 1000);
        assert_eq!(batch["operations"]["minItems"], 1);
        let tag = schema("TagDefinition");
        assert_eq!(tag["duration_days"]["maximum"], 3650);
        assert_eq!(tag["tag_type"]["maxLength"], 64);
        assert_eq!(schema("LevelRequest")["threshold"]["minimum"], 0);
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 19);
        assert!(paths.values().all(Value::is_object));
    }
}
