//! VIP tags: the tenant's definitions, and grants to members — at most one tag of a
//! type per member; a second is a conflict that the caller settles with a resolution.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::error::is_unique_violation;
use shopops_kernel::validate::display_name;
use shopops_kernel::{tr, AppError, AppResult};
use utoipa::ToSchema;

use super::domain::MemberId;
use super::validate::Check;
use super::Operator;
use crate::entities::{member_vip_tag, vip_tag};
use crate::error::{self, vip_tag_conflict};
use crate::store;

/// Longest tag type. A type is a key (`vip`), and a path segment of
/// `DELETE /profiles/{member_id}/vip-tags/{tag_type}`.
pub const TAG_TYPE_MAX_CHARS: usize = 64;
/// Longest default validity of a grant (ten years).
pub const MAX_DURATION_DAYS: i32 = 3650;

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

/// A tag a member holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    pub tag_id: i64,
    pub tag_type: String,
    pub tag_name: String,
    pub rank: i32,
    pub expires_at: Option<DateTime<Utc>>,
}

impl TagView {
    pub fn of(def: &vip_tag::Model, expires_at: Option<DateTime<Utc>>) -> Self {
        Self {
            tag_id: def.id,
            tag_type: def.tag_type.clone(),
            tag_name: def.tag_name.clone(),
            rank: def.rank,
            expires_at,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResult {
    pub member_id: String,
    pub tag: TagView,
    pub resolution: Option<Resolution>,
}

/// What a grant did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEffect {
    /// The member now holds the tag (it held none of the type, or an expired one).
    New,
    /// A held tag was upgraded, replaced or extended.
    Changed,
}

pub struct Granted {
    pub effect: GrantEffect,
    pub result: GrantResult,
}

/// A tag definition, checked.
pub struct NewTag {
    pub tag_type: String,
    pub tag_name: String,
    pub rank: i32,
    pub duration_days: Option<i32>,
}

impl NewTag {
    pub fn parse(
        tag_type: &str,
        tag_name: &str,
        rank: i32,
        duration_days: Option<i32>,
    ) -> AppResult<Self> {
        let mut check = Check::fields();
        let trimmed = tag_type.trim();
        let len = trimmed.chars().count();
        if len == 0
            || len > TAG_TYPE_MAX_CHARS
            || tag_type.chars().any(|c| c.is_control() || c == '/')
        {
            let max = TAG_TYPE_MAX_CHARS;
            check.add(
                "tag_type",
                tr!(
                    "必须为 1 到 {max} 个字符，且不含控制字符或 /",
                    "must be 1 to {max} characters, without control characters or /"
                ),
            );
        }
        check.rule(|errors| display_name("tag_name", tag_name, errors));
        if duration_days.is_some_and(|d| !(1..=MAX_DURATION_DAYS).contains(&d)) {
            let max = MAX_DURATION_DAYS;
            check.add(
                "duration_days",
                tr!("必须为 1 到 {max}", "must be 1 to {max}"),
            );
        }
        check.finish(Some(Self {
            tag_type: trimmed.to_string(),
            tag_name: tag_name.trim().to_string(),
            rank,
            duration_days,
        }))
    }
}

/// A grant request, checked.
pub struct Grant {
    pub tag_id: i64,
    /// Overrides the tag's default duration; in the future.
    pub expires_at: Option<DateTime<Utc>>,
    pub resolution: Option<Resolution>,
}

impl Grant {
    /// The member (422 when the id is not one a member can have) and the grant.
    pub fn parse(
        member: &str,
        tag_id: i64,
        expires_at: Option<DateTime<Utc>>,
        resolution: Option<Resolution>,
    ) -> AppResult<(MemberId, Self)> {
        let mut check = Check::fields();
        let member = check.member_id("member_id", member);
        let expires_at = check.expires_at("expires_at", expires_at);
        let parsed = (|| {
            Some((
                member?,
                Self {
                    tag_id,
                    expires_at: expires_at?,
                    resolution,
                },
            ))
        })();
        check.finish(parsed)
    }
}

/// The tenant's definitions, by type, highest rank first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: i64) -> AppResult<Vec<TagDefinitionView>> {
    Ok(vip_tag::Entity::find()
        .filter(vip_tag::Column::TenantId.eq(tenant))
        .order_by_asc(vip_tag::Column::TagType)
        .order_by_desc(vip_tag::Column::Rank)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Defines a tag; 409 `TAG_NAME_TAKEN` when its name is taken.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    new: NewTag,
) -> AppResult<TagDefinitionView> {
    let saved = vip_tag::ActiveModel {
        tenant_id: Set(op.tenant_id),
        tag_type: Set(new.tag_type),
        tag_name: Set(new.tag_name),
        rank: Set(new.rank),
        duration_days: Set(new.duration_days),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(error::tag_name_taken)?;
    let summary =
        json!({ "tag_type": saved.tag_type, "tag_name": saved.tag_name, "rank": saved.rank });
    op.audit(
        db,
        "points.vip_tag.create",
        "vip_tag",
        saved.id.to_string(),
        summary,
    )
    .await?;
    Ok(saved.into())
}

/// Grants a tag (the member's profile is created on first use). A held, unexpired
/// tag of the same type is 409 `VIP_TAG_CONFLICT` unless the grant says how to settle
/// it.
pub async fn grant<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    member: &MemberId,
    g: &Grant,
) -> AppResult<Granted> {
    let (tenant, now) = (op.tenant_id, Utc::now());
    let requested = vip_tag::Entity::find_by_id(g.tag_id)
        .filter(vip_tag::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("vip_tag"))?;
    let duration = requested
        .duration_days
        .map(|d| chrono::Duration::days(d.into()));
    let expires_at = g.expires_at.or(duration.map(|d| now + d));
    let profile = store::ensure(db, tenant, member.as_str(), now).await?;
    let held = member_vip_tag::Entity::find()
        .filter(member_vip_tag::Column::TenantId.eq(tenant))
        .filter(member_vip_tag::Column::ProfileId.eq(profile.profile_id))
        .filter(member_vip_tag::Column::TagType.eq(&requested.tag_type))
        .find_also_related(vip_tag::Entity)
        .one(db)
        .await?;
    let insert = || insert_grant(db, tenant, profile.profile_id, &requested, expires_at, now);
    let (effect, tag) = match held {
        // An expired grant no longer holds the slot.
        Some((grant, _)) if grant.expires_at.is_some_and(|e| e <= now) => {
            member_vip_tag::Entity::delete_many()
                .filter(member_vip_tag::Column::TenantId.eq(tenant))
                .filter(member_vip_tag::Column::Id.eq(grant.id))
                .exec(db)
                .await?;
            (GrantEffect::New, insert().await?)
        }
        Some((grant, Some(existing))) => {
            let Some(resolution) = g.resolution else {
                return Err(vip_tag_conflict(
                    json!({ "id": existing.id, "tag_name": existing.tag_name, "expires_at": grant.expires_at }),
                    json!({ "id": requested.id, "tag_name": requested.tag_name }),
                ));
            };
            let mut active: member_vip_tag::ActiveModel = grant.clone().into();
            let tag = match resolution {
                Resolution::UpgradeExisting if requested.rank <= existing.rank => {
                    return Err(error::resolution_not_applicable(
                        existing.rank,
                        requested.rank,
                    ));
                }
                Resolution::UpgradeExisting | Resolution::ReplaceExisting => {
                    active.tag_id = Set(requested.id);
                    active.granted_at = Set(now);
                    active.expires_at = Set(expires_at);
                    active.update(db).await?;
                    TagView::of(&requested, expires_at)
                }
                Resolution::ExtendExisting => {
                    let extra = duration.or(g.expires_at.map(|e| e - now));
                    // Without an end on either side there is none after: a permanent
                    // tag stays so, and one extended by a tag without duration becomes
                    // permanent. A lapsed end is extended from now.
                    let extended = match (grant.expires_at, extra) {
                        (Some(current), Some(extra)) => Some(current.max(now) + extra),
                        _ => None,
                    };
                    active.expires_at = Set(extended);
                    active.update(db).await?;
                    TagView::of(&existing, extended)
                }
            };
            (GrantEffect::Changed, tag)
        }
        // No grant of the type, or one whose definition is gone (the insert then
        // meets the held row and answers the conflict).
        _ => (GrantEffect::New, insert().await?),
    };
    let summary = json!({ "tag_id": tag.tag_id, "tag_type": tag.tag_type, "expires_at": tag.expires_at, "resolution": g.resolution });
    op.audit(
        db,
        "points.vip_tag.grant",
        "points_member",
        member.as_str().to_string(),
        summary,
    )
    .await?;
    Ok(Granted {
        effect,
        result: GrantResult {
            member_id: member.as_str().to_string(),
            tag,
            resolution: g.resolution,
        },
    })
}

async fn insert_grant<C: ConnectionTrait>(
    db: &C,
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
    .insert(db)
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
    Ok(TagView::of(tag, expires_at))
}

/// Takes a member's tag of a type away.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    op: &Operator<'_>,
    member: &MemberId,
    tag_type: &str,
) -> AppResult<()> {
    let tenant = op.tenant_id;
    let profile = store::find(db, tenant, member.as_str())
        .await?
        .ok_or_else(|| AppError::not_found("member_profile"))?;
    let removed = member_vip_tag::Entity::delete_many()
        .filter(member_vip_tag::Column::TenantId.eq(tenant))
        .filter(member_vip_tag::Column::ProfileId.eq(profile.profile_id))
        .filter(member_vip_tag::Column::TagType.eq(tag_type))
        .exec(db)
        .await?;
    if removed.rows_affected == 0 {
        return Err(AppError::not_found("member_vip_tag"));
    }
    let summary = json!({ "tag_type": tag_type });
    op.audit(
        db,
        "points.vip_tag.revoke",
        "points_member",
        member.as_str().to_string(),
        summary,
    )
    .await
}
