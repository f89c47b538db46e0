//! `/cs/shops`, `/cs/shops/{id}/agents`, `/cs/settings`: shops with their rules, who
//! works them, and the tenant's settings.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use super::State;
use crate::entities::shop;
use crate::permissions;
use crate::service::kb::Writer;
use crate::service::llm::DEFAULT_SYSTEM_PROMPT;
use crate::service::settings::{self, TenantSettings};
use crate::service::shops::{self, ShopFields, ShopScope};

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CsShop)]
pub struct ShopView {
    pub id: i64,
    pub name: String,
    pub qianniu_title: String,
    /// `[x, y, w, h]`, or empty when not set.
    pub ocr_region: Vec<i64>,
    pub unread_threshold: f64,
    pub ai_model: String,
    pub auto_mode: bool,
    pub blacklist: Vec<String>,
    pub whitelist: Vec<String>,
    pub business_hours: String,
    pub reply_delay: i64,
    pub kb_auto_threshold: f64,
    pub kb_assist_threshold: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A JSON list column as stored (written by `service::shops`, so it always parses).
fn list<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Vec<T> {
    serde_json::from_value(v).unwrap_or_default()
}

impl From<shop::Model> for ShopView {
    fn from(s: shop::Model) -> Self {
        Self {
            id: s.id,
            name: s.name,
            qianniu_title: s.qianniu_title,
            ocr_region: list(s.ocr_region),
            unread_threshold: s.unread_threshold,
            ai_model: s.ai_model,
            auto_mode: s.auto_mode,
            blacklist: list(s.blacklist),
            whitelist: list(s.whitelist),
            business_hours: s.business_hours,
            reply_delay: s.reply_delay,
            kb_auto_threshold: s.kb_auto_threshold,
            kb_assist_threshold: s.kb_assist_threshold,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

fn writer<'a>(principal: &Principal, ctx: &'a RequestContext) -> Writer<'a> {
    Writer {
        ctx,
        actor: principal.actor(),
        tenant_id: principal.tenant_id,
    }
}

/// Add a shop (permission `cs:shops:write`; audited). Unset fields take their defaults.
#[utoipa::path(post, path = "/shops", tag = "cs", operation_id = "create_shop", request_body = ShopFields,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ShopView), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn create_shop(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: actix_web::HttpRequest,
    body: web::Json<ShopFields>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    let body = body.into_inner();
    let idem = IdempotencyRequest::from_request(&req, &principal, "POST /api/v1/cs/shops", &body)?;
    let model = shops::apply(principal.tenant_id, None, body, &state.llm.names())?;
    let writer = writer(&principal, &ctx);
    idempotency::execute(&kernel, idem, async |txn| {
        let saved = shops::save(txn, &writer, model.clone()).await?;
        WriteOutcome::new(StatusCode::CREATED, &ShopView::from(saved))
    })
    .await
}

/// The caller's shops (admins: all of the tenant's; agents: theirs), by name
/// (permission `cs:shops:read`).
#[utoipa::path(get, path = "/shops", tag = "cs", operation_id = "list_shops",
    responses((status = 200, body = Vec<ShopView>)), security(("bearer" = [])))]
pub async fn list_shops(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_READ)?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let found = shop::Entity::find()
        .filter(shop::Column::TenantId.eq(principal.tenant_id))
        .filter(scope.condition(shop::Column::Id))
        .order_by_asc(shop::Column::Name)
        .all(&kernel.db)
        .await?;
    Ok(HttpResponse::Ok().json(found.into_iter().map(ShopView::from).collect::<Vec<_>>()))
}

/// One shop (permission `cs:shops:read`).
#[utoipa::path(get, path = "/shops/{id}", tag = "cs", operation_id = "get_shop", params(("id" = i64, Path)),
    responses((status = 200, body = ShopView)), security(("bearer" = [])))]
pub async fn get_shop(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_READ)?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let found = shops::find(&kernel.db, &scope, principal.tenant_id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ShopView::from(found)))
}

/// Change a shop's fields; absent fields stay (permission `cs:shops:write`; audited).
#[utoipa::path(patch, path = "/shops/{id}", tag = "cs", operation_id = "update_shop", params(("id" = i64, Path)),
    request_body = ShopFields,
    responses((status = 200, body = ShopView), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn update_shop(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<ShopFields>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    let (fields, id) = (body.into_inner(), id.into_inner());
    let writer = writer(&principal, &ctx);
    let names = state.llm.names();
    idempotency::execute(&kernel, None, async |txn| {
        let current = shops::find(txn, &ShopScope::All, principal.tenant_id, id).await?;
        let model = shops::apply(principal.tenant_id, Some(&current), fields.clone(), &names)?;
        let saved = shops::save(txn, &writer, model).await?;
        WriteOutcome::new(StatusCode::OK, &ShopView::from(saved))
    })
    .await
}

/// Delete a shop with its messages, their replies and history, and its own KB
/// entries, in one transaction (permission `cs:shops:write`; audited).
#[utoipa::path(delete, path = "/shops/{id}", tag = "cs", operation_id = "delete_shop", params(("id" = i64, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_shop(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    let id = id.into_inner();
    let writer = writer(&principal, &ctx);
    let response = idempotency::execute(&kernel, None, async |txn| {
        let current = shops::find(txn, &ShopScope::All, principal.tenant_id, id).await?;
        shops::delete(txn, &writer, current).await?;
        Ok(WriteOutcome::no_content())
    })
    .await?;
    state.indexes.changed(principal.tenant_id);
    Ok(response)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopAgents {
    /// Users of the tenant who may review (role `agent` or `admin`); replaces the list.
    #[schema(max_items = 200)]
    pub user_ids: Vec<i64>,
}

/// Set who works a shop (permission `cs:shops:write`; audited).
#[utoipa::path(put, path = "/shops/{id}/agents", tag = "cs", operation_id = "set_shop_agents", params(("id" = i64, Path)),
    request_body = ShopAgents,
    responses((status = 200, body = ShopAgents), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn set_agents(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<ShopAgents>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    let (mut ids, id) = (body.into_inner().user_ids, id.into_inner());
    ids.sort_unstable();
    ids.dedup();
    let writer = writer(&principal, &ctx);
    idempotency::execute(&kernel, None, async |txn| {
        let current = shops::find(txn, &ShopScope::All, principal.tenant_id, id).await?;
        shops::set_agents(txn, &kernel, &writer, &current, &ids).await?;
        WriteOutcome::new(
            StatusCode::OK,
            &ShopAgents {
                user_ids: ids.clone(),
            },
        )
    })
    .await
}

/// Who works a shop (permission `cs:shops:read`).
#[utoipa::path(get, path = "/shops/{id}/agents", tag = "cs", operation_id = "get_shop_agents", params(("id" = i64, Path)),
    responses((status = 200, body = ShopAgents)), security(("bearer" = [])))]
pub async fn get_agents(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_READ)?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let found = shops::find(&kernel.db, &scope, principal.tenant_id, id.into_inner()).await?;
    let user_ids = shops::agents_of(&kernel.db, principal.tenant_id, found.id).await?;
    Ok(HttpResponse::Ok().json(ShopAgents { user_ids }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: TenantSettings,
    /// The prompt used while `system_prompt` is null.
    pub default_system_prompt: &'static str,
}

/// The tenant's customer-service settings (permission `cs:shops:read`).
#[utoipa::path(get, path = "/settings", tag = "cs", operation_id = "get_settings",
    responses((status = 200, body = SettingsView)), security(("bearer" = [])))]
pub async fn get_settings(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_READ)?;
    let settings = settings::get(&kernel.db, principal.tenant_id, &state.config.time_zone).await?;
    Ok(HttpResponse::Ok().json(SettingsView {
        settings,
        default_system_prompt: DEFAULT_SYSTEM_PROMPT,
    }))
}

/// Replace the tenant's settings (permission `cs:shops:write`; audited).
#[utoipa::path(put, path = "/settings", tag = "cs", operation_id = "put_settings", request_body = TenantSettings,
    responses((status = 200, body = SettingsView), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn put_settings(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    body: web::Json<TenantSettings>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    let value = body.into_inner();
    value.check()?;
    idempotency::execute(&kernel, None, async |txn| {
        settings::put(txn, principal.tenant_id, &value).await?;
        shopops_kernel::audit::record(
            txn,
            &ctx,
            &principal.actor(),
            shopops_kernel::audit::Change {
                tenant_id: principal.tenant_id,
                action: "cs.settings.update",
                target_type: "cs_settings",
                target_id: principal.tenant_id.to_string(),
                summary: serde_json::json!({ "time_zone": value.time_zone, "custom_prompt": value.system_prompt.is_some() }),
            },
        )
        .await?;
        WriteOutcome::new(
            StatusCode::OK,
            &SettingsView {
                settings: value.clone(),
                default_system_prompt: DEFAULT_SYSTEM_PROMPT,
            },
        )
    })
    .await
}
