//! VIP tags: definitions, grants to members, conflicts and their resolution.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{is_unique_violation, ErrorEnvelope, FieldErrors};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::reads::TagView;
use crate::entities::{member_vip_tag, vip_tag};
use crate::error::vip_tag_conflict;
use crate::store;
use crate::validate::Check;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagDefinition {
    /// A member holds at most one tag of a type (e.g. `vip`).
    pub tag_type: String,
    pub tag_name: String,
    /// Higher outranks lower within a type.
    pub rank: i32,
    /// Default validity of a grant in days; none = no expiry.
    pub duration_days: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagDefinitionView {
    pub id: i64,
    pub tag_type: String,
    pub tag_name: String,
    pub rank: i32,
    pub duration_days: Option<i32>,
}

impl From<vip_tag::Model> for TagDefinitionView {
    fn from(m: vip_tag::Model) -> Self {
        Self {
            id: m.id,
            tag_type: m.tag_type,
            tag_name: m.tag_name,
            rank: m.rank,
            duration_days: m.duration_days,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Replace the held tag if the requested one ranks higher.
    UpgradeExisting,
    /// Keep the held tag and extend its validity by the requested tag's duration.
    ExtendExisting,
    /// Replace the held tag whatever the ranks.
    ReplaceExisting,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub tag_id: i64,
    /// Overrides the tag's default duration.
    pub expires_at: Option<DateTime<Utc>>,
    /// How to resolve a `VIP_TAG_CONFLICT`.
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResult {
    pub member_id: String,
    pub tag: TagView,
    pub resolution: Option<Resolution>,
}

/// VIP tag definitions (permission `points:read`).
#[utoipa::path(get, path = "/vip-tags", tag = "points", responses((status = 200, body = Vec<TagDefinitionView>)), security(("bearer" = [])))]
pub async fn list_tags(kernel: web::Data<Kernel>, principal: Principal) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:read")?;
    let tags: Vec<TagDefinitionView> = vip_tag::Entity::find()
        .filter(vip_tag::Column::TenantId.eq(principal.tenant_id))
        .order_by_asc(vip_tag::Column::TagType)
        .order_by_desc(vip_tag::Column::Rank)
        .all(&kernel.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(tags))
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
    principal.require(&kernel, "points:manage")?;
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    for (field, value) in [("tag_type", &body.tag_type), ("tag_name", &body.tag_name)] {
        if value.trim().is_empty() || value.chars().count() > 64 {
            errors.add(field, "must be 1 to 64 characters");
        }
    }
    if body.duration_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        errors.add("duration_days", "must be 1 to 3650");
    }
    errors.into_result()?;
    let tenant = principal.tenant_id;
    idempotency::execute(&kernel, None, async |txn| {
        let saved = vip_tag::ActiveModel {
            tenant_id: Set(tenant),
            tag_type: Set(body.tag_type.trim().to_string()),
            tag_name: Set(body.tag_name.trim().to_string()),
            rank: Set(body.rank),
            duration_days: Set(body.duration_days),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await
        .map_err(|e| if is_unique_violation(&e) { AppError::conflict("TAG_NAME_TAKEN", "a tag with this name exists").with_details(json!({ "field": "tag_name" })) } else { e.into() })?;
        audit::record(txn, &ctx, &principal.actor(), Change { tenant_id: tenant, action: "points.vip_tag.create", target_type: "vip_tag", target_id: saved.id.to_string(), summary: json!({ "tag_type": saved.tag_type, "tag_name": saved.tag_name, "rank": saved.rank }) }).await?;
        WriteOutcome::new(StatusCode::CREATED, &TagDefinitionView::from(saved))
    })
    .await
}

fn tag_view(def: &vip_tag::Model, expires_at: Option<DateTime<Utc>>) -> TagView {
    TagView {
        tag_id: def.id,
        tag_type: def.tag_type.clone(),
        tag_name: def.tag_name.clone(),
        rank: def.rank,
        expires_at,
    }
}

/// Grant a VIP tag to a member (permission `points:manage`). A second tag of the same
/// type is 409 `VIP_TAG_CONFLICT`; repeat the grant with a `resolution` to settle it.
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
    principal.require(&kernel, "points:manage")?;
    let body = body.into_inner();
    let member = member.into_inner();
    let mut check = Check::new(crate::validate::Bounds {
        min: 1,
        max: i64::MAX,
    });
    check
        .member_id("member_id", &member)
        .expires_at("expires_at", body.expires_at);
    check.into_result()?;
    let tenant = principal.tenant_id;
    idempotency::execute(&kernel, None, async |txn| {
        let now = Utc::now();
        let requested = vip_tag::Entity::find_by_id(body.tag_id).filter(vip_tag::Column::TenantId.eq(tenant)).one(txn).await?.ok_or_else(|| AppError::not_found("VIP tag"))?;
        let duration = requested.duration_days.map(|d| chrono::Duration::days(d.into()));
        let expires_at = body.expires_at.or(duration.map(|d| now + d));
        let profile = store::add(txn, tenant, &member, 0, 0, now).await?;
        let held = member_vip_tag::Entity::find()
            .filter(member_vip_tag::Column::ProfileId.eq(profile.profile_id))
            .filter(member_vip_tag::Column::TagType.eq(&requested.tag_type))
            .find_also_related(vip_tag::Entity)
            .one(txn)
            .await?;
        let (status, tag) = match held {
            // An expired grant no longer holds the slot.
            Some((grant, _)) if grant.expires_at.is_some_and(|e| e <= now) => {
                member_vip_tag::Entity::delete_by_id(grant.id).exec(txn).await?;
                (StatusCode::CREATED, insert_grant(txn, tenant, profile.profile_id, &requested, expires_at, now).await?)
            }
            Some((grant, Some(existing))) => {
                let conflict = || vip_tag_conflict(
                    json!({ "id": existing.id, "tag_name": existing.tag_name, "expires_at": grant.expires_at }),
                    json!({ "id": requested.id, "tag_name": requested.tag_name }),
                );
                let mut active: member_vip_tag::ActiveModel = grant.clone().into();
                match body.resolution {
                    None => return Err(conflict()),
                    Some(Resolution::UpgradeExisting) if requested.rank <= existing.rank => {
                        return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "RESOLUTION_NOT_APPLICABLE", "upgrade_existing needs a higher-ranked tag")
                            .with_details(json!({ "existing_rank": existing.rank, "requested_rank": requested.rank, "resolution_options": ["extend_existing", "replace_existing"] })));
                    }
                    Some(Resolution::UpgradeExisting) | Some(Resolution::ReplaceExisting) => {
                        active.tag_id = Set(requested.id);
                        active.granted_at = Set(now);
                        active.expires_at = Set(expires_at);
                        active.update(txn).await?;
                        (StatusCode::OK, tag_view(&requested, expires_at))
                    }
                    Some(Resolution::ExtendExisting) => {
                        let extended = match (grant.expires_at, duration.or(body.expires_at.map(|e| e - now))) {
                            (Some(current), Some(extra)) => Some(current.max(now) + extra),
                            _ => None,
                        };
                        active.expires_at = Set(extended);
                        active.update(txn).await?;
                        (StatusCode::OK, tag_view(&existing, extended))
                    }
                }
            }
            _ => (StatusCode::CREATED, insert_grant(txn, tenant, profile.profile_id, &requested, expires_at, now).await?),
        };
        audit::record(txn, &ctx, &principal.actor(), Change { tenant_id: tenant, action: "points.vip_tag.grant", target_type: "points_member", target_id: member.clone(), summary: json!({ "tag_id": tag.tag_id, "tag_type": tag.tag_type, "expires_at": tag.expires_at, "resolution": body.resolution }) }).await?;
        WriteOutcome::new(status, &GrantResult { member_id: member.clone(), tag, resolution: body.resolution })
    })
    .await
}

async fn insert_grant<C: sea_orm::ConnectionTrait>(
    txn: &C,
    tenant: i64,
    profile_id: i64,
    tag: &vip_tag::Model,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<TagView> {
    member_vip_tag::ActiveModel {
        tenant_id: Set(tenant),
        profile_id: Set(profile_id),
        tag_id: Set(tag.id),
        tag_type: Set(tag.tag_type.clone()),
        granted_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| {
        // A concurrent grant of the same type won the slot.
        if is_unique_violation(&e) {
            vip_tag_conflict(
                json!({ "tag_type": tag.tag_type }),
                json!({ "id": tag.id, "tag_name": tag.tag_name }),
            )
        } else {
            e.into()
        }
    })?;
    Ok(tag_view(tag, expires_at))
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
    principal.require(&kernel, "points:manage")?;
    let (member, tag_type) = path.into_inner();
    let tenant = principal.tenant_id;
    idempotency::execute(&kernel, None, async |txn| {
        let profile = store::find(txn, tenant, &member)
            .await?
            .ok_or_else(|| AppError::not_found("member profile"))?;
        let removed = member_vip_tag::Entity::delete_many()
            .filter(member_vip_tag::Column::ProfileId.eq(profile.profile_id))
            .filter(member_vip_tag::Column::TagType.eq(&tag_type))
            .exec(txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(AppError::not_found("VIP tag of that type"));
        }
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: tenant,
                action: "points.vip_tag.revoke",
                target_type: "points_member",
                target_id: member.clone(),
                summary: json!({ "tag_type": tag_type }),
            },
        )
        .await?;
        Ok(WriteOutcome::no_content())
    })
    .await
}
