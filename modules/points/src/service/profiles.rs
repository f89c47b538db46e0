//! Members as the API shows them: balances, level, tags, points expiring soon and
//! masked contact data; their ledger; their contact data (encrypted at rest with a key
//! id, found by a keyed hash, never shown in clear).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;
use serde_json::json;
use shopops_kernel::error::Code;
use shopops_kernel::http::pagination::{Order, Page, PageRequest};
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::domain::{EntryType, MemberId};
use super::levels::{self, LevelView};
use super::tags::TagView;
use super::validate::Check;
use super::Operator;
use crate::entities::{entry, lot, member_vip_tag, profile, vip_tag};
use crate::store;

/// Days ahead that count as "expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiringSoon {
    pub points: i64,
    pub within_days: i64,
    pub earliest_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub member_id: String,
    pub total_points: i64,
    pub frozen_points: i64,
    pub lifetime_points: i64,
    pub current_level: Option<LevelView>,
    pub tags: Vec<TagView>,
    pub expiring_soon: ExpiringSoon,
    /// Masked (`a***@example.com`); stored encrypted.
    pub email: Option<String>,
    /// Masked (`138****5678`); stored encrypted.
    pub phone: Option<String>,
}

/// A member id from a path that reads a profile: one no member can have has no
/// profile (404, as for any unknown member).
pub fn existing(member: &str) -> AppResult<MemberId> {
    MemberId::parse(member).ok_or_else(|| AppError::not_found("member_profile"))
}

/// A member id from a path that writes to the member (creating its profile on first
/// use): 422 when no member can have it.
pub fn writable(member: &str) -> AppResult<MemberId> {
    let mut check = Check::fields();
    let member = check.member_id("member_id", member);
    check.finish(member)
}

async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    member: &MemberId,
) -> AppResult<profile::Model> {
    profile::Entity::find()
        .filter(profile::Column::TenantId.eq(tenant))
        .filter(profile::Column::MemberId.eq(member.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("member_profile"))
}

/// The member's profile as shown; 404 when the tenant has no such member.
pub async fn show(kernel: &Kernel, tenant: i64, member: &MemberId) -> AppResult<ProfileView> {
    let p = find(&kernel.db, tenant, member).await?;
    view(kernel, p).await
}

async fn view(kernel: &Kernel, p: profile::Model) -> AppResult<ProfileView> {
    let (db, tenant, now) = (&kernel.db, p.tenant_id, Utc::now());
    let levels = levels::all(kernel, db, tenant).await?;
    // A fixed number of queries whatever the member holds: tags with their
    // definitions, then the soon-expiring lots.
    let tags = member_vip_tag::Entity::find()
        .filter(member_vip_tag::Column::TenantId.eq(tenant))
        .filter(member_vip_tag::Column::ProfileId.eq(p.id))
        .find_also_related(vip_tag::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter(|(t, _)| t.expires_at.is_none_or(|e| e > now))
        .filter_map(|(t, def)| def.map(|d| TagView::of(&d, t.expires_at)))
        .collect();
    let soon = lot::Entity::find()
        .filter(lot::Column::TenantId.eq(tenant))
        .filter(lot::Column::ProfileId.eq(p.id))
        .filter(lot::Column::RemainingPoints.gt(0))
        .filter(lot::Column::ExpiresAt.lte(now + chrono::Duration::days(EXPIRING_SOON_DAYS)))
        .order_by_asc(lot::Column::ExpiresAt)
        .all(db)
        .await?;
    let reveal = |stored: &Option<String>| -> AppResult<Option<String>> {
        stored
            .as_deref()
            .map(|s| {
                kernel
                    .pii
                    .decrypt(s)
                    .map(|v| shopops_kernel::crypto::mask(&v))
                    .map_err(AppError::internal)
            })
            .transpose()
    };
    Ok(ProfileView {
        email: reveal(&p.email_enc)?,
        phone: reveal(&p.phone_enc)?,
        current_level: p
            .level_id
            .and_then(|id| levels.into_iter().find(|l| l.id == id)),
        member_id: p.member_id,
        total_points: p.total_points,
        frozen_points: p.frozen_points,
        lifetime_points: p.lifetime_points,
        tags,
        expiring_soon: ExpiringSoon {
            points: soon.iter().map(|l| l.remaining_points).sum(),
            within_days: EXPIRING_SOON_DAYS,
            earliest_expires_at: soon.first().and_then(|l| l.expires_at),
        },
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub entry_id: i64,
    pub entry_type: EntryType,
    pub points_delta: i64,
    pub frozen_delta: i64,
    pub balance_after: i64,
    pub category: String,
    pub reason: String,
    pub operator_name: String,
    pub request_id: String,
    pub idempotency_key: Option<String>,
    pub reverses_entry_id: Option<i64>,
    pub reversed_by_entry_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<entry::Model> for RecordView {
    type Error = AppError;

    fn try_from(e: entry::Model) -> AppResult<Self> {
        let entry_type = EntryType::parse(&e.entry_type).ok_or_else(|| {
            AppError::internal(format!(
                "points entry {} has the unknown type `{}`",
                e.id, e.entry_type
            ))
        })?;
        Ok(Self {
            entry_id: e.id,
            entry_type,
            points_delta: e.points_delta,
            frozen_delta: e.frozen_delta,
            balance_after: e.balance_after,
            category: e.category,
            reason: e.reason,
            operator_name: e.operator_name,
            request_id: e.request_id,
            idempotency_key: e.idempotency_key,
            reverses_entry_id: e.reverses_entry_id,
            reversed_by_entry_id: e.reversed_by_entry_id,
            created_at: e.created_at,
        })
    }
}

/// Which entries of a member's ledger to list. A type or category no entry has
/// matches nothing (a filter, not a check).
#[derive(Debug, Default)]
pub struct RecordFilter {
    pub entry_type: Option<String>,
    pub category: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of the member's ledger, newest first; 404 when the tenant has no such member.
pub async fn records(
    kernel: &Kernel,
    tenant: i64,
    member: &MemberId,
    filter: RecordFilter,
    page: PageRequest,
) -> AppResult<Page<RecordView>> {
    let mut q = entry::Entity::find()
        .filter(entry::Column::TenantId.eq(tenant))
        .filter(entry::Column::MemberId.eq(member.as_str()));
    if let Some(t) = filter.entry_type {
        q = q.filter(entry::Column::EntryType.eq(t));
    }
    if let Some(c) = filter.category {
        q = q.filter(entry::Column::Category.eq(c));
    }
    if let Some(from) = filter.from {
        q = q.filter(entry::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(entry::Column::CreatedAt.lt(to));
    }
    let found = page
        .fetch(q, entry::Column::Id, Order::NewestFirst, &kernel.db, |e| {
            e.id
        })
        .await?;
    // An empty first page: an unknown member is 404, a known one has no such entries.
    if found.data.is_empty() && page.after.is_none() {
        find(&kernel.db, tenant, member).await?;
    }
    let Page {
        data,
        next_cursor,
        has_more,
    } = found;
    Ok(Page {
        data: data
            .into_iter()
            .map(RecordView::try_from)
            .collect::<AppResult<_>>()?,
        next_cursor,
        has_more,
    })
}

/// Longest e-mail address in bytes (RFC 5321's path limit).
pub const EMAIL_MAX_BYTES: usize = 254;

/// New contact data, checked: for each, absent leaves it, "" removes it.
pub struct ContactChange {
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl ContactChange {
    pub fn parse(email: Option<&str>, phone: Option<&str>) -> AppResult<Self> {
        let mut check = Check::fields();
        if let Some(e) = email.filter(|e| !e.is_empty()) {
            let valid = e.len() <= EMAIL_MAX_BYTES
                && e.split_once('@').is_some_and(|(l, d)| {
                    !l.is_empty() && d.contains('.') && !e.chars().any(char::is_whitespace)
                });
            if !valid {
                check.add(
                    "email",
                    tr!("必须是电子邮件地址", "must be an e-mail address"),
                );
            }
        }
        if let Some(p) = phone.filter(|p| !p.is_empty()) {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            if !(5..=20).contains(&digits)
                || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
            {
                check.add(
                    "phone",
                    tr!(
                        "必须为 5 到 20 位数字（可含 + - 或空格）",
                        "must be 5 to 20 digits (with + - or spaces)"
                    ),
                );
            }
        }
        if email.is_none() && phone.is_none() {
            check.add(
                "body",
                tr!("请提供 email、phone 或两者", "give email, phone or both"),
            );
        }
        check.finish(Some(Self {
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
        }))
    }
}

/// Sets a member's contact data (the profile is created on first use): sealed with
/// the active key, indexed by keyed hash for [`lookup`].
pub async fn update_contact<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    op: &Operator<'_>,
    member: &MemberId,
    change: &ContactChange,
) -> AppResult<()> {
    let vault = &kernel.pii;
    let seal = |v: &str| (!v.is_empty()).then(|| (vault.encrypt(v.trim()), vault.index(v)));
    let now = Utc::now();
    let b = store::ensure(db, op.tenant_id, member.as_str(), now).await?;
    let current = profile::Entity::find_by_id(b.profile_id)
        .filter(profile::Column::TenantId.eq(op.tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("points profile vanished"))?;
    let mut active: profile::ActiveModel = current.into();
    if let Some(email) = &change.email {
        let (enc, hash) = seal(email).unzip();
        active.email_enc = Set(enc);
        active.email_hash = Set(hash);
    }
    if let Some(phone) = &change.phone {
        let (enc, hash) = seal(phone).unzip();
        active.phone_enc = Set(enc);
        active.phone_hash = Set(hash);
    }
    active.updated_at = Set(now);
    active.update(db).await?;
    // Never the data itself: the audit log is readable by more people than the data.
    let summary = json!({
        "email_changed": change.email.is_some(),
        "phone_changed": change.phone.is_some(),
        "key_id": vault.active_key_id(),
    });
    op.audit(
        db,
        "points.contact.update",
        "points_member",
        member.as_str().to_string(),
        summary,
    )
    .await
}

/// How to find a member by contact data.
pub enum Lookup {
    Email(String),
    Phone(String),
}

impl Lookup {
    /// Exactly one of the two: 400 `INVALID_QUERY` otherwise.
    pub fn parse(email: Option<String>, phone: Option<String>) -> AppResult<Self> {
        match (email, phone) {
            (Some(e), None) => Ok(Lookup::Email(e)),
            (None, Some(p)) => Ok(Lookup::Phone(p)),
            _ => Err(Code::InvalidQuery.err().with_message(tr!(
                "请只给出 email 或 phone 其中之一",
                "give exactly one of email, phone"
            ))),
        }
    }
}

/// The member with this e-mail or phone; 404 when the tenant has none.
pub async fn lookup(kernel: &Kernel, tenant: i64, by: &Lookup) -> AppResult<ProfileView> {
    let query = profile::Entity::find().filter(profile::Column::TenantId.eq(tenant));
    let query = match by {
        Lookup::Email(e) => query.filter(profile::Column::EmailHash.eq(kernel.pii.index(e))),
        Lookup::Phone(p) => query.filter(profile::Column::PhoneHash.eq(kernel.pii.index(p))),
    };
    let p = query
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("member_profile"))?;
    view(kernel, p).await
}
