//! Shops: what a valid one is, writing them, who works them, and which shops a caller
//! may see (admins: every shop of the tenant; agents: the shops assigned to them).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{tr, validate, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::kb::Writer;
use super::rules::{BusinessHours, KEYWORD_PREFIX};
use crate::entities::{kb_entry, message, message_event, shop, shop_agent};
use crate::permissions;
use crate::store;

pub const NAME_MAX_CHARS: usize = 100;
pub const TITLE_MAX_CHARS: usize = 200;
/// Entries of a blacklist or whitelist, and their length.
pub const LIST_MAX_ENTRIES: usize = 500;
pub const LIST_ENTRY_MAX_CHARS: usize = 64;
/// Screen coordinates beyond this are not a screen.
pub const SCREEN_MAX_PIXELS: i64 = 16_384;
pub const REPLY_DELAY_MAX_SECS: i64 = 300;

/// A shop's settings as a caller gives them (every field optional: defaults on
/// create, unchanged on update).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopFields {
    /// Unique within the tenant.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The chat window's title (千牛) the desktop agent looks for.
    #[schema(max_length = 200)]
    pub qianniu_title: Option<String>,
    /// `[x, y, w, h]` in screen pixels, inside 16384 × 16384.
    #[schema(min_items = 4, max_items = 4)]
    pub ocr_region: Option<Vec<i64>>,
    /// Share of changed pixels that means "unread" (0 to 1, default 0.02).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub unread_threshold: Option<f64>,
    /// The LLM provider for drafts: a configured name, default `stub`.
    #[schema(max_length = 32)]
    pub ai_model: Option<String>,
    /// Send confident KB answers without review (default false).
    pub auto_mode: Option<bool>,
    /// Customer ids, or `keyword:<text>`: never auto-sent (at most 500, each ≤ 64).
    #[schema(max_items = 500)]
    pub blacklist: Option<Vec<String>>,
    /// Customer ids; when not empty, only they get automatic replies.
    #[schema(max_items = 500)]
    pub whitelist: Option<Vec<String>>,
    /// `09:00-22:00` (several ranges with commas; may cross midnight) in the tenant's
    /// time zone; empty: always.
    #[schema(max_length = 100)]
    pub business_hours: Option<String>,
    /// Seconds the agent waits before typing a reply (0–300, default 2).
    #[schema(minimum = 0, maximum = 300)]
    pub reply_delay: Option<i64>,
    /// Above it a KB answer may be sent as is (default 0.9).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub kb_auto_threshold: Option<f64>,
    /// Above it an LLM drafts from the KB answer (default 0.6); below `kb_auto_threshold`.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub kb_assist_threshold: Option<f64>,
}

/// The shop a write produces: `current` (if any) with `fields` applied, every value
/// checked. `providers`: the configured LLM provider names.
pub fn apply(
    tenant_id: i64,
    current: Option<&shop::Model>,
    fields: ShopFields,
    providers: &[String],
) -> AppResult<shop::ActiveModel> {
    let mut errors = FieldErrors::new();
    let now = Utc::now();
    let name = fields
        .name
        .or(current.map(|s| s.name.clone()))
        .unwrap_or_default();
    validate::display_name("name", &name, &mut errors);
    if name.chars().count() > NAME_MAX_CHARS {
        errors.add(
            "name",
            tr!(
                "最多 {NAME_MAX_CHARS} 个字符",
                "at most {NAME_MAX_CHARS} characters"
            ),
        );
    }
    let title = fields
        .qianniu_title
        .or(current.map(|s| s.qianniu_title.clone()))
        .unwrap_or_default();
    validate::free_text("qianniu_title", &title, TITLE_MAX_CHARS, &mut errors);
    let region = fields
        .ocr_region
        .or(current.and_then(|s| serde_json::from_value(s.ocr_region.clone()).ok()));
    let region: Vec<i64> = region.unwrap_or_default();
    // Each value is bounded before any sum, so no sum can overflow.
    let in_screen = |v: i64, min: i64| (min..=SCREEN_MAX_PIXELS).contains(&v);
    let region_ok = region.is_empty()
        || (region.len() == 4
            && in_screen(region[0], 0)
            && in_screen(region[1], 0)
            && in_screen(region[2], 1)
            && in_screen(region[3], 1)
            && region[0] + region[2] <= SCREEN_MAX_PIXELS
            && region[1] + region[3] <= SCREEN_MAX_PIXELS);
    if !region_ok {
        errors.add(
            "ocr_region",
            tr!(
                "必须为 [x, y, w, h]：x、y ≥ 0，w、h ≥ 1，且在 16384 × 16384 之内",
                "must be [x, y, w, h] with x, y ≥ 0, w, h ≥ 1, inside 16384 × 16384"
            ),
        );
    }
    let unread = fields
        .unread_threshold
        .or(current.map(|s| s.unread_threshold))
        .unwrap_or(0.02);
    if !(unread > 0.0 && unread <= 1.0) {
        errors.add(
            "unread_threshold",
            tr!("必须大于 0 且不超过 1", "must be above 0 and at most 1"),
        );
    }
    let ai_model = fields
        .ai_model
        .or(current.map(|s| s.ai_model.clone()))
        .unwrap_or_else(|| "stub".into());
    if !providers.contains(&ai_model) {
        let configured = providers.join(", ");
        errors.add(
            "ai_model",
            tr!(
                "不是已配置的模型提供方（可用：{configured}）",
                "is not a configured LLM provider (configured: {configured})"
            ),
        );
    }
    let list = |field: &'static str,
                given: Option<Vec<String>>,
                stored: Option<&serde_json::Value>,
                errors: &mut FieldErrors| {
        let list: Vec<String> = given
            .or_else(|| stored.and_then(|v| serde_json::from_value(v.clone()).ok()))
            .unwrap_or_default();
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        if list.len() > LIST_MAX_ENTRIES {
            errors.add(
                field,
                tr!(
                    "最多 {LIST_MAX_ENTRIES} 项",
                    "at most {LIST_MAX_ENTRIES} entries"
                ),
            );
        }
        for entry in list {
            let entry = entry.trim().to_string();
            let keyword = entry.strip_prefix(KEYWORD_PREFIX);
            if entry.is_empty() || keyword.is_some_and(|k| k.trim().is_empty()) {
                errors.add(field, tr!("不能有空项", "must not hold an empty entry"));
                continue;
            }
            validate::free_text(field, &entry, LIST_ENTRY_MAX_CHARS, errors);
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
        out
    };
    let blacklist = list(
        "blacklist",
        fields.blacklist,
        current.map(|s| &s.blacklist),
        &mut errors,
    );
    let whitelist = list(
        "whitelist",
        fields.whitelist,
        current.map(|s| &s.whitelist),
        &mut errors,
    );
    if whitelist.iter().any(|e| e.starts_with(KEYWORD_PREFIX)) {
        errors.add(
            "whitelist",
            tr!("只能列出顾客 ID", "may list customer ids only"),
        );
    }
    let hours = fields
        .business_hours
        .or(current.map(|s| s.business_hours.clone()))
        .unwrap_or_default();
    if BusinessHours::parse(&hours).is_none() {
        errors.add(
            "business_hours",
            tr!(
                "格式为 HH:MM-HH:MM（多个时段用逗号分隔），或留空表示全天",
                "must be HH:MM-HH:MM (several ranges separated by commas), or empty for always"
            ),
        );
    }
    let delay = fields
        .reply_delay
        .or(current.map(|s| s.reply_delay))
        .unwrap_or(2);
    if !(0..=REPLY_DELAY_MAX_SECS).contains(&delay) {
        errors.add(
            "reply_delay",
            tr!("必须为 0 到 300 秒", "must be 0 to 300 seconds"),
        );
    }
    let auto = fields
        .kb_auto_threshold
        .or(current.map(|s| s.kb_auto_threshold))
        .unwrap_or(0.9);
    let assist = fields
        .kb_assist_threshold
        .or(current.map(|s| s.kb_assist_threshold))
        .unwrap_or(0.6);
    if !(0.0..=1.0).contains(&auto) {
        errors.add("kb_auto_threshold", tr!("必须为 0 到 1", "must be 0 to 1"));
    }
    if !(0.0..=1.0).contains(&assist) || assist >= auto {
        errors.add(
            "kb_assist_threshold",
            tr!(
                "必须为 0 到 1，且小于 kb_auto_threshold",
                "must be 0 to 1 and below kb_auto_threshold"
            ),
        );
    }
    errors.into_result()?;
    let mut model = match current {
        Some(s) => shop::ActiveModel::from(s.clone()),
        None => shop::ActiveModel {
            tenant_id: Set(tenant_id),
            created_at: Set(now),
            ..Default::default()
        },
    };
    model.name = Set(name.trim().to_string());
    model.qianniu_title = Set(title);
    model.ocr_region = Set(json!(region));
    model.unread_threshold = Set(unread);
    model.ai_model = Set(ai_model);
    model.auto_mode = Set(fields
        .auto_mode
        .or(current.map(|s| s.auto_mode))
        .unwrap_or(false));
    model.blacklist = Set(json!(blacklist));
    model.whitelist = Set(json!(whitelist));
    model.business_hours = Set(hours.trim().to_string());
    model.reply_delay = Set(delay);
    model.kb_auto_threshold = Set(auto);
    model.kb_assist_threshold = Set(assist);
    model.updated_at = Set(now);
    Ok(model)
}

/// Saves a new or changed shop; a taken name is 422 on `name`.
pub async fn save<C: ConnectionTrait>(
    txn: &C,
    writer: &Writer<'_>,
    model: shop::ActiveModel,
) -> AppResult<shop::Model> {
    let name = match &model.name {
        sea_orm::ActiveValue::Set(n) | sea_orm::ActiveValue::Unchanged(n) => n.clone(),
        sea_orm::ActiveValue::NotSet => String::new(),
    };
    let id = match &model.id {
        sea_orm::ActiveValue::Set(id) | sea_orm::ActiveValue::Unchanged(id) => Some(*id),
        sea_orm::ActiveValue::NotSet => None,
    };
    let taken = shop::Entity::find()
        .filter(shop::Column::TenantId.eq(writer.tenant_id))
        .filter(shop::Column::Name.eq(name.clone()))
        .one(txn)
        .await?
        .is_some_and(|other| Some(other.id) != id);
    if taken {
        let mut errors = FieldErrors::new();
        errors.add(
            "name",
            tr!(
                "该名称已被本租户的其他店铺使用",
                "is taken by another shop of this tenant"
            ),
        );
        return Err(AppError::validation(errors));
    }
    let saved = match id {
        Some(_) => model.update(txn).await?,
        None => model.insert(txn).await?,
    };
    let action = if id.is_some() {
        "cs.shop.update"
    } else {
        "cs.shop.create"
    };
    writer
        .record(
            txn,
            action,
            ("cs_shop", saved.id),
            json!({ "name": saved.name }),
        )
        .await?;
    Ok(saved)
}

/// Removes a shop with its messages (and their replies and history), its own KB
/// entries (tombstoned, so every index lets them go) and its agents, in `txn`.
pub async fn delete<C: ConnectionTrait>(
    txn: &C,
    writer: &Writer<'_>,
    shop: shop::Model,
) -> AppResult<()> {
    let tenant = writer.tenant_id;
    let ids: Vec<i64> = message::Entity::find()
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::ShopId.eq(shop.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let mut events = 0;
    for chunk in ids.chunks(500) {
        events += message_event::Entity::delete_many()
            .filter(message_event::Column::TenantId.eq(tenant))
            .filter(message_event::Column::MessageId.is_in(chunk.to_vec()))
            .exec(txn)
            .await?
            .rows_affected;
    }
    message::Entity::delete_many()
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::ShopId.eq(shop.id))
        .exec(txn)
        .await?;
    let seq = store::next_seq(txn, tenant).await?;
    let entries = kb_entry::Entity::update_many()
        .col_expr(kb_entry::Column::DeletedAt, Expr::value(Utc::now()))
        .col_expr(kb_entry::Column::ChangeSeq, Expr::value(seq))
        .col_expr(kb_entry::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(kb_entry::Column::TenantId.eq(tenant))
        .filter(kb_entry::Column::ShopId.eq(shop.id))
        .filter(kb_entry::Column::DeletedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    store::delete_shop_embeddings(txn, tenant, shop.id).await?;
    shop_agent::Entity::delete_many()
        .filter(shop_agent::Column::TenantId.eq(tenant))
        .filter(shop_agent::Column::ShopId.eq(shop.id))
        .exec(txn)
        .await?;
    shop::Entity::delete_by_id(shop.id).exec(txn).await?;
    let summary = json!({ "name": shop.name, "messages": ids.len(), "message_events": events, "kb_entries": entries });
    writer
        .record(txn, "cs.shop.delete", ("cs_shop", shop.id), summary)
        .await
}

/// Replaces the shop's agents. Each must be a user of the tenant who may review.
pub async fn set_agents<C: ConnectionTrait>(
    txn: &C,
    kernel: &Kernel,
    writer: &Writer<'_>,
    shop: &shop::Model,
    user_ids: &[i64],
) -> AppResult<()> {
    let users = shopops_kernel::entities::user::Entity::find()
        .filter(shopops_kernel::entities::user::Column::TenantId.eq(writer.tenant_id))
        .filter(shopops_kernel::entities::user::Column::Id.is_in(user_ids.to_vec()))
        .all(txn)
        .await?;
    let refused: Vec<i64> = user_ids
        .iter()
        .copied()
        .filter(|id| {
            !users.iter().any(|u| u.id == *id)
                || !kernel
                    .rbac
                    .allows(*id, writer.tenant_id, permissions::REVIEW.name)
        })
        .collect();
    if !refused.is_empty() {
        let mut errors = FieldErrors::new();
        let refused = format!("{refused:?}");
        errors.add(
            "user_ids",
            tr!(
                "{refused} 不是本租户中可审核的用户（需要客服角色）",
                "{refused} are not users of this tenant who may review (role agent)"
            ),
        );
        return Err(AppError::validation(errors));
    }
    shop_agent::Entity::delete_many()
        .filter(shop_agent::Column::TenantId.eq(writer.tenant_id))
        .filter(shop_agent::Column::ShopId.eq(shop.id))
        .exec(txn)
        .await?;
    for user_id in user_ids {
        shop_agent::ActiveModel {
            shop_id: Set(shop.id),
            user_id: Set(*user_id),
            tenant_id: Set(writer.tenant_id),
            created_at: Set(Utc::now()),
        }
        .insert(txn)
        .await?;
    }
    writer
        .record(
            txn,
            "cs.shop.agents",
            ("cs_shop", shop.id),
            json!({ "user_ids": user_ids }),
        )
        .await
}

/// The users assigned to a shop.
pub async fn agents_of<C: ConnectionTrait>(db: &C, tenant: i64, shop: i64) -> AppResult<Vec<i64>> {
    Ok(shop_agent::Entity::find()
        .filter(shop_agent::Column::TenantId.eq(tenant))
        .filter(shop_agent::Column::ShopId.eq(shop))
        .order_by_asc(shop_agent::Column::UserId)
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .collect())
}

/// Whether the tenant has shop `id`.
pub async fn exists<C: ConnectionTrait>(db: &C, tenant: i64, id: i64) -> AppResult<bool> {
    Ok(shop::Entity::find_by_id(id)
        .filter(shop::Column::TenantId.eq(tenant))
        .count(db)
        .await?
        > 0)
}

/// The ids of the tenant's shops (an import checks every row's against them).
pub async fn tenant_shop_ids<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
) -> AppResult<std::collections::HashSet<i64>> {
    Ok(shop::Entity::find()
        .select_only()
        .column(shop::Column::Id)
        .filter(shop::Column::TenantId.eq(tenant))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The tenant's shop `id`, if the caller's scope holds it; 404 otherwise (another
/// tenant's shop, or one the agent is not assigned to, does not exist for them).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    scope: &ShopScope,
    tenant: i64,
    id: i64,
) -> AppResult<shop::Model> {
    shop::Entity::find_by_id(id)
        .filter(shop::Column::TenantId.eq(tenant))
        .one(db)
        .await?
        .filter(|s| scope.allows(s.id))
        .ok_or_else(|| AppError::not_found("cs_shop"))
}

/// Which of the tenant's shops a caller works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopScope {
    /// Every shop (the tenant's admins and read-only members).
    All,
    /// The shops assigned to the caller.
    Only(Vec<i64>),
}

impl ShopScope {
    /// Judged on the user's roles, not an API token's scopes: a desk token of an
    /// admin reaches what the admin does. Who can be assigned to shops (holders of
    /// `cs:review`) sees those; admins, and read-only members who are never assigned,
    /// see every shop (their permissions still decide what they may do).
    pub async fn of(kernel: &Kernel, principal: &Principal) -> AppResult<ShopScope> {
        let held = kernel.rbac.permissions_of(principal.user_id);
        let holds = |p: &shopops_kernel::Permission| held.iter().any(|h| h == p.name);
        if holds(&permissions::SHOPS_WRITE) || !holds(&permissions::REVIEW) {
            return Ok(ShopScope::All);
        }
        let assigned = shop_agent::Entity::find()
            .filter(shop_agent::Column::TenantId.eq(principal.tenant_id))
            .filter(shop_agent::Column::UserId.eq(principal.user_id))
            .all(&kernel.db)
            .await?;
        Ok(ShopScope::Only(
            assigned.into_iter().map(|a| a.shop_id).collect(),
        ))
    }

    pub fn allows(&self, shop: i64) -> bool {
        match self {
            ShopScope::All => true,
            ShopScope::Only(ids) => ids.contains(&shop),
        }
    }

    /// A condition on a `shop_id` column keeping the scope's shops.
    pub fn condition(&self, column: impl ColumnTrait) -> sea_orm::Condition {
        match self {
            ShopScope::All => sea_orm::Condition::all(),
            ShopScope::Only(ids) => sea_orm::Condition::all().add(column.is_in(ids.clone())),
        }
    }

    /// Knowledge-base entries the scope reads: its shops' and the tenant-wide ones.
    pub fn entries(&self) -> sea_orm::Condition {
        match self {
            ShopScope::All => sea_orm::Condition::all(),
            ShopScope::Only(ids) => sea_orm::Condition::any()
                .add(kb_entry::Column::ShopId.is_in(ids.clone()))
                .add(kb_entry::Column::ShopId.is_null()),
        }
    }

    /// Reading something of `shop` (`None`: tenant-wide, read by everyone): a shop
    /// outside the scope is 404 `what`, as one of another tenant is.
    pub fn reads(&self, shop: Option<i64>, what: &str) -> AppResult<()> {
        match shop {
            Some(id) if !self.allows(id) => Err(AppError::not_found(what)),
            _ => Ok(()),
        }
    }

    /// Writing a knowledge-base entry of `shop`: an agent writes its shops' entries;
    /// tenant-wide ones answer in every shop, so they are the admins'.
    pub fn writes(&self, shop: Option<i64>, what: &str) -> AppResult<()> {
        match (self, shop) {
            (ShopScope::Only(_), None) => {
                let mut errors = FieldErrors::new();
                errors.add(
                    "shop_id",
                    tr!(
                        "请给出你负责的店铺：全店通用的条目由管理员维护",
                        "give one of your shops: entries for every shop are the admins'"
                    ),
                );
                errors.into_result()
            }
            _ => self.reads(shop, what),
        }
    }
}
