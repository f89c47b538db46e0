//! `/gateway/platforms[/{id}]` and `…/sessions`: platforms with their accounts
//! (secrets write-only, masked on read) and the state of their sessions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::crypto::mask;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Order, Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::{account, platform};
use crate::permissions;
use crate::service::platforms::{self, PlatformFields, PlatformSettings};
use crate::service::Platform;
use crate::store;

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewayAccount)]
pub struct AccountView {
    pub id: i64,
    /// Masked (`ad***n`); the secrets are write-only.
    pub username: String,
    /// Always `******`.
    pub password: String,
    /// `active` or `auth_failed`.
    pub state: String,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewayPlatform)]
pub struct PlatformView {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    #[serde(flatten)]
    pub settings: PlatformSettings,
    pub accounts: Vec<AccountView>,
    pub keepalive_failures: i32,
    pub last_keepalive_at: Option<DateTime<Utc>>,
    pub keepalive_next_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(
    kernel: &Kernel,
    p: platform::Model,
    accounts: Vec<account::Model>,
) -> AppResult<PlatformView> {
    Ok(PlatformView {
        settings: platforms::settings_of(&p.settings)?,
        accounts: accounts
            .into_iter()
            .map(|a| AccountView {
                id: a.id,
                username: mask(&kernel.pii.decrypt(&a.username).unwrap_or_default()),
                password: "******".into(),
                state: a.state,
                last_error: a.last_error,
            })
            .collect(),
        id: p.id,
        name: p.name,
        enabled: p.enabled,
        keepalive_failures: p.keepalive_failures,
        last_keepalive_at: p.last_keepalive_at,
        keepalive_next_at: p.keepalive_next_at,
        last_error: p.last_error,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

fn name_taken(e: sea_orm::DbErr) -> AppError {
    if shopops_kernel::error::is_unique_violation(&e) {
        crate::error::Code::NameTaken
            .err()
            .with_details(json!({ "field": "name" }))
    } else {
        e.into()
    }
}

/// Add a platform with its accounts (permission `gateway:write`; audited, secrets not).
#[utoipa::path(post, path = "/platforms", tag = "gateway", operation_id = "create_gateway_platform", request_body = PlatformFields,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PlatformView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn create_platform(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: actix_web::HttpRequest,
    body: web::Json<PlatformFields>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::WRITE)?;
    let body = body.into_inner();
    let idem = IdempotencyRequest::from_request(
        &req,
        &principal,
        "POST /api/v1/gateway/platforms",
        &body,
    )?;
    let checked = platforms::apply(None, body)?;
    let tenant = principal.tenant_id;
    idempotency::execute(&kernel, idem, async |txn| {
        let now = Utc::now();
        let row = platform::ActiveModel {
            tenant_id: sea_orm::Set(tenant),
            name: sea_orm::Set(checked.name.clone()),
            enabled: sea_orm::Set(checked.enabled),
            settings: sea_orm::Set(serde_json::to_value(&checked.settings).map_err(AppError::internal)?),
            keepalive_failures: sea_orm::Set(0),
            keepalive_next_at: sea_orm::Set(None),
            last_keepalive_at: sea_orm::Set(None),
            last_error: sea_orm::Set(None),
            created_at: sea_orm::Set(now),
            updated_at: sea_orm::Set(now),
            ..Default::default()
        };
        let saved = platform::Entity::insert(row).exec_with_returning(txn).await.map_err(name_taken)?;
        let accounts = store::replace_accounts(txn, &kernel.pii, tenant, saved.id, checked.accounts.as_deref().unwrap_or_default()).await?;
        super::record(txn, &ctx, &principal, "gateway.platform.create", saved.id, json!({ "name": saved.name, "base_url": checked.settings.base_url, "accounts": accounts.len() })).await?;
        WriteOutcome::new(StatusCode::CREATED, &view(&kernel, saved, accounts)?)
    })
    .await
}

/// The tenant's platforms, oldest first (permission `gateway:read`).
#[utoipa::path(get, path = "/platforms", tag = "gateway", operation_id = "list_gateway_platforms", params(PageQuery),
    responses((status = 200, body = Page<PlatformView>)), security(("bearer" = [])))]
pub async fn list_platforms(
    kernel: web::Data<Kernel>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let request = page.resolve()?;
    let select =
        platform::Entity::find().filter(platform::Column::TenantId.eq(principal.tenant_id));
    let found = request
        .fetch(
            select,
            platform::Column::Id,
            Order::OldestFirst,
            &kernel.db,
            |p| p.id,
        )
        .await?;
    let mut data = Vec::with_capacity(found.data.len());
    for p in found.data {
        let accounts = store::accounts(&kernel.db, principal.tenant_id, p.id).await?;
        data.push(view(&kernel, p, accounts)?);
    }
    Ok(HttpResponse::Ok().json(Page {
        data,
        next_cursor: found.next_cursor,
        has_more: found.has_more,
    }))
}

async fn find(kernel: &Kernel, tenant: i64, id: i64) -> AppResult<platform::Model> {
    store::platform(&kernel.db, tenant, id)
        .await?
        .ok_or_else(|| AppError::not_found("platform"))
}

/// One platform (permission `gateway:read`).
#[utoipa::path(get, path = "/platforms/{id}", tag = "gateway", operation_id = "get_gateway_platform", params(("id" = i64, Path)),
    responses((status = 200, body = PlatformView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn get_platform(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let p = find(&kernel, principal.tenant_id, id.into_inner()).await?;
    let accounts = store::accounts(&kernel.db, principal.tenant_id, p.id).await?;
    Ok(HttpResponse::Ok().json(view(&kernel, p, accounts)?))
}

/// Change a platform; absent fields stay, `accounts` replaces the list (permission
/// `gateway:write`; audited).
#[utoipa::path(patch, path = "/platforms/{id}", tag = "gateway", operation_id = "update_gateway_platform", params(("id" = i64, Path)),
    request_body = PlatformFields,
    responses((status = 200, body = PlatformView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn update_platform(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<PlatformFields>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::WRITE)?;
    let (fields, id, tenant) = (body.into_inner(), id.into_inner(), principal.tenant_id);
    idempotency::execute(&kernel, None, async |txn| {
        let current = store::platform(txn, tenant, id)
            .await?
            .ok_or_else(|| AppError::not_found("platform"))?;
        let settings = platforms::settings_of(&current.settings)?;
        let checked = platforms::apply(
            Some((&current.name, current.enabled, &settings)),
            fields.clone(),
        )?;
        let mut row: platform::ActiveModel = current.clone().into();
        row.name = sea_orm::Set(checked.name.clone());
        row.enabled = sea_orm::Set(checked.enabled);
        row.settings =
            sea_orm::Set(serde_json::to_value(&checked.settings).map_err(AppError::internal)?);
        row.updated_at = sea_orm::Set(Utc::now());
        let saved = sea_orm::ActiveModelTrait::update(row, txn)
            .await
            .map_err(name_taken)?;
        let accounts = match &checked.accounts {
            Some(list) => store::replace_accounts(txn, &kernel.pii, tenant, id, list).await?,
            None => store::accounts(txn, tenant, id).await?,
        };
        // Which fields changed, never their values (accounts carry passwords).
        let fields_named: Vec<String> = serde_json::to_value(&fields)
            .ok()
            .and_then(|v| {
                v.as_object().map(|o| {
                    o.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, _)| k.clone())
                        .collect()
                })
            })
            .unwrap_or_default();
        super::record(
            txn,
            &ctx,
            &principal,
            "gateway.platform.update",
            id,
            json!({ "fields": fields_named }),
        )
        .await?;
        WriteOutcome::new(StatusCode::OK, &view(&kernel, saved, accounts)?)
    })
    .await
}

/// Delete a platform and its accounts (permission `gateway:write`; audited). Its
/// session is left to expire in the cache.
#[utoipa::path(delete, path = "/platforms/{id}", tag = "gateway", operation_id = "delete_gateway_platform", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn delete_platform(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::WRITE)?;
    let (id, tenant) = (id.into_inner(), principal.tenant_id);
    idempotency::execute(&kernel, None, async |txn| {
        let current = store::platform(txn, tenant, id)
            .await?
            .ok_or_else(|| AppError::not_found("platform"))?;
        account::Entity::delete_many()
            .filter(account::Column::TenantId.eq(tenant))
            .filter(account::Column::PlatformId.eq(id))
            .exec(txn)
            .await?;
        platform::Entity::delete_by_id(id).exec(txn).await?;
        super::record(
            txn,
            &ctx,
            &principal,
            "gateway.platform.delete",
            id,
            json!({ "name": current.name }),
        )
        .await?;
        Ok(WriteOutcome::no_content())
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewayAccountSession)]
pub struct SessionView {
    pub account_id: i64,
    /// `live` (this account's session serves calls), `idle` (usable, no session),
    /// `retired` (resting after failures), `refused` (wrong password).
    pub state: String,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub error_score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewaySessions)]
pub struct SessionsView {
    pub sessions: Vec<SessionView>,
    /// Logins made (`stats:login_count`).
    pub login_count: i64,
    /// Failures counted (`stats:error_count`).
    pub error_count: i64,
}

/// The platform's accounts and their sessions (permission `gateway:read`). Cookies
/// are never shown.
#[utoipa::path(get, path = "/platforms/{id}/sessions", tag = "gateway", operation_id = "list_gateway_sessions", params(("id" = i64, Path)),
    responses((status = 200, body = SessionsView), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn list_sessions(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let row = find(&kernel, principal.tenant_id, id.into_inner()).await?;
    let p = Platform::from_row(&kernel, row).await?;
    let live = p.live_session(&kernel).await?;
    let timeout = chrono::Duration::seconds(p.settings.session_timeout as i64);
    let mut sessions = Vec::new();
    for a in &p.accounts {
        let mine = live
            .as_ref()
            .filter(|l| l.session.login_info.account_id == a.id);
        let state = if a.refused {
            "refused"
        } else if mine.is_some() {
            "live"
        } else if p.is_retired(&kernel, a.id).await? {
            "retired"
        } else {
            "idle"
        };
        sessions.push(SessionView {
            account_id: a.id,
            state: state.into(),
            created_at: mine.map(|l| l.session.created_at),
            last_used: mine.map(|l| l.last_used),
            expires_at: mine.map(|l| l.last_used + timeout),
            error_score: p.score(&kernel, a.id).await?,
        });
    }
    Ok(HttpResponse::Ok().json(SessionsView {
        sessions,
        login_count: p.stat(&kernel, "login_count").await?,
        error_count: p.stat(&kernel, "error_count").await?,
    }))
}
