//! `/api/v1/api-tokens`: scoped tokens for machine callers (the OCR agent, services).
//! The token is shown once at creation; only its SHA-256 is stored.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::auth::tokens::{random_token, sha256_hex, API_TOKEN_PREFIX};
use crate::auth::Principal;
use crate::context::Kernel;
use crate::entities::api_token;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::pagination::{Order, Page, PageQuery};
use crate::http::RequestContext;
use crate::idempotency::{self, IdempotencyRequest, WriteOutcome};
use crate::permissions;
use crate::tr;
use crate::validate;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Permissions the token may use (`module:action`); a subset of the caller's.
    pub scopes: Vec<String>,
    /// Days until the token expires, 1..=3650; none = no expiry.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    /// First characters of the token, to recognise it.
    pub token_prefix: String,
    pub scopes: Vec<String>,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub info: ApiTokenView,
    /// The secret token. Shown only in this response.
    pub token: String,
}

impl From<api_token::Model> for ApiTokenView {
    fn from(m: api_token::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            token_prefix: m.token_prefix,
            scopes: serde_json::from_value(m.scopes).unwrap_or_default(),
            user_id: m.user_id,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// Create an API token for the caller (permission `api_tokens:create`). The token is
/// shown in this response only. Accepts `Idempotency-Key`, but the secret is never
/// stored for replays: a replay is 409 `SECRET_NOT_REPLAYED` with the token's id in
/// `details.created` (revoke it and create another if the first answer was lost).
#[utoipa::path(
    post,
    path = "/api-tokens",
    tag = "api-tokens",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateApiToken,
    responses((status = 201, body = CreatedApiToken), (status = 403, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope), (status = 422, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn create_api_token(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<CreateApiToken>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::API_TOKENS_CREATE)?;
    let body = body.into_inner();
    let mine = principal.permissions(&kernel);
    let mut errors = FieldErrors::new();
    validate::display_name("name", &body.name, &mut errors);
    if body.scopes.is_empty() {
        errors.add(
            "scopes",
            tr!("请至少给出一个权限", "give at least one permission"),
        );
    }
    for scope in &body.scopes {
        if !mine.contains(scope) {
            errors.add(
                "scopes",
                tr!(
                    "`{scope}` 不是你拥有的权限",
                    "`{scope}` is not one of your permissions"
                ),
            );
        }
    }
    if let Some(days) = body.expires_in_days {
        if !(1..=3650).contains(&days) {
            errors.add(
                "expires_in_days",
                tr!("必须为 1 到 3650", "must be 1 to 3650"),
            );
        }
    }
    if !errors.is_empty() {
        let mut err = AppError::validation(errors);
        err.details["valid_scopes"] = json!(mine);
        return Err(err);
    }
    let idem =
        IdempotencyRequest::from_request(&req, &principal, "POST /api/v1/api-tokens", &body)?;
    idempotency::execute(&kernel, idem, async |txn| {
        let token = format!("{API_TOKEN_PREFIX}{}", random_token());
        let now = Utc::now();
        let mut scopes = body.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let saved = api_token::ActiveModel {
            tenant_id: Set(principal.tenant_id),
            user_id: Set(principal.user_id),
            name: Set(body.name.trim().to_string()),
            token_prefix: Set(token.chars().take(10).collect()),
            token_hash: Set(sha256_hex(&token)),
            scopes: Set(json!(scopes)),
            created_at: Set(now),
            expires_at: Set(body
                .expires_in_days
                .map(|d| now + chrono::Duration::days(d.into()))),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "api_token.create",
                target_type: "api_token",
                target_id: saved.id.to_string(),
                summary: json!({ "name": saved.name, "scopes": scopes }),
            },
        )
        .await?;
        let info = ApiTokenView::from(saved);
        WriteOutcome::shown_once(
            StatusCode::CREATED,
            &CreatedApiToken {
                info: info.clone(),
                token,
            },
            &info,
        )
    })
    .await
}

/// List the caller's API tokens (permission `api_tokens:read`); tenant admins
/// (`users:update`) see every token of the tenant.
#[utoipa::path(
    get,
    path = "/api-tokens",
    tag = "api-tokens",
    params(PageQuery),
    responses((status = 200, body = Page<ApiTokenView>)),
    security(("bearer" = []))
)]
pub async fn list_api_tokens(
    kernel: web::Data<Kernel>,
    principal: Principal,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::API_TOKENS_READ)?;
    let page = query.resolve()?;
    let mut select =
        api_token::Entity::find().filter(api_token::Column::TenantId.eq(principal.tenant_id));
    if principal
        .require(&kernel, &permissions::USERS_UPDATE)
        .is_err()
    {
        select = select.filter(api_token::Column::UserId.eq(principal.user_id));
    }
    let found = page
        .fetch(
            select,
            api_token::Column::Id,
            Order::OldestFirst,
            &kernel.db,
            |t| t.id,
        )
        .await?;
    let page = found.map(ApiTokenView::from);
    Ok(HttpResponse::Ok().json(page))
}

/// Revoke an API token (permission `api_tokens:revoke`; another user's token needs
/// `users:update`). Revoking twice is harmless.
#[utoipa::path(
    delete,
    path = "/api-tokens/{id}",
    tag = "api-tokens",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn revoke_api_token(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::API_TOKENS_REVOKE)?;
    let id = id.into_inner();
    let may_revoke_others = principal
        .require(&kernel, &permissions::USERS_UPDATE)
        .is_ok();
    idempotency::execute(&kernel, None, async |txn| {
        let found = api_token::Entity::find_by_id(id)
            .filter(api_token::Column::TenantId.eq(principal.tenant_id))
            .one(txn)
            .await?
            .filter(|t| t.user_id == principal.user_id || may_revoke_others)
            .ok_or_else(|| AppError::not_found("API token"))?;
        if found.revoked_at.is_none() {
            api_token::Entity::update_many()
                .col_expr(api_token::Column::RevokedAt, Expr::value(Utc::now()))
                .filter(api_token::Column::Id.eq(id))
                .exec(txn)
                .await?;
            audit::record(
                txn,
                &ctx,
                &principal.actor(),
                Change {
                    tenant_id: principal.tenant_id,
                    action: "api_token.revoke",
                    target_type: "api_token",
                    target_id: id.to_string(),
                    summary: json!({ "name": found.name }),
                },
            )
            .await?;
        }
        Ok(WriteOutcome::no_content())
    })
    .await
}
