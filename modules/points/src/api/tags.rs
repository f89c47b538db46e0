//! VIP tags: definitions, grants to members (conflicts and their resolution),
//! revocation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use super::operator;
use crate::permissions;
use crate::service::profiles;
use crate::service::tags::{
    self, Grant, GrantEffect, GrantResult, NewTag, Resolution, TagDefinitionView,
};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagDefinition {
    /// A member holds at most one tag of a type (e.g. `vip`): 1 to 64 characters, no
    /// control characters, no `/`.
    #[schema(min_length = 1, max_length = 64)]
    pub tag_type: String,
    /// 1 to 200 characters once trimmed, no control characters; unique per tenant.
    #[schema(min_length = 1, max_length = 200)]
    pub tag_name: String,
    /// Higher outranks lower within a type (any 32-bit integer).
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    pub rank: i32,
    /// Default validity of a grant in days, 1 to 3650; none = no expiry.
    #[schema(minimum = 1, maximum = 3650)]
    pub duration_days: Option<i32>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub tag_id: i64,
    /// Overrides the tag's default duration; in the future.
    pub expires_at: Option<DateTime<Utc>>,
    /// How to resolve a `VIP_TAG_CONFLICT`.
    pub resolution: Option<Resolution>,
}

/// VIP tag definitions (permission `points:read`).
#[utoipa::path(get, path = "/vip-tags", tag = "points", responses((status = 200, body = Vec<TagDefinitionView>)), security(("bearer" = [])))]
pub async fn list_tags(kernel: web::Data<Kernel>, principal: Principal) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    Ok(HttpResponse::Ok().json(tags::list(&kernel.db, principal.tenant_id).await?))
}

/// Define a VIP tag (permission `points:manage`).
#[utoipa::path(post, path = "/vip-tags", tag = "points", request_body = TagDefinition,
    responses((status = 201, body = TagDefinitionView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn create_tag(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    body: web::Json<TagDefinition>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let body = body.into_inner();
    let new = NewTag::parse(
        &body.tag_type,
        &body.tag_name,
        body.rank,
        body.duration_days,
    )?;
    let op = operator(&ctx, &principal, None);
    idempotency::execute(&kernel, None, async |txn| {
        WriteOutcome::new(StatusCode::CREATED, &tags::create(txn, &op, new).await?)
    })
    .await
}

/// Grant a VIP tag to a member (permission `points:manage`). A second tag of the same
/// type is 409 `VIP_TAG_CONFLICT`; repeat the grant with a `resolution` to settle it
/// (200 when a held tag changed, 201 for a new one).
#[utoipa::path(post, path = "/profiles/{member_id}/vip-tags", tag = "points", params(("member_id" = String, Path)), request_body = GrantRequest,
    responses((status = 201, body = GrantResult), (status = 200, body = GrantResult), (status = 404, body = ErrorEnvelope), (status = 409, description = "VIP_TAG_CONFLICT", body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn grant_tag(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    member: web::Path<String>,
    body: web::Json<GrantRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let body = body.into_inner();
    let (member, grant) = Grant::parse(&member, body.tag_id, body.expires_at, body.resolution)?;
    let op = operator(&ctx, &principal, None);
    idempotency::execute(&kernel, None, async |txn| {
        let granted = tags::grant(txn, &op, &member, &grant).await?;
        let status = match granted.effect {
            GrantEffect::New => StatusCode::CREATED,
            GrantEffect::Changed => StatusCode::OK,
        };
        WriteOutcome::new(status, &granted.result)
    })
    .await
}

/// Take a member's tag of a type away (permission `points:manage`).
#[utoipa::path(delete, path = "/profiles/{member_id}/vip-tags/{tag_type}", tag = "points", params(("member_id" = String, Path), ("tag_type" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn revoke_tag(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MANAGE)?;
    let (member, tag_type) = path.into_inner();
    let member = profiles::existing(&member)?;
    let op = operator(&ctx, &principal, None);
    idempotency::execute(&kernel, None, async |txn| {
        tags::revoke(txn, &op, &member, &tag_type).await?;
        Ok(WriteOutcome::no_content())
    })
    .await
}
