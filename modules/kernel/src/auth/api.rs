//! `/api/v1/auth/*` and `/api/v1/me`.

use actix_web::{web, HttpResponse};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::service::{self, TokenPair};
use crate::auth::{AuthMethod, Principal};
use crate::context::Kernel;
use crate::entities::tenant;
use crate::error::{AppResult, Code, FieldErrors};
use crate::http::RequestContext;
use crate::identity::tenants::TenantView;
use crate::tr;

/// Answers that carry tokens or who the caller is must not be kept by any cache.
pub(crate) const NO_STORE: (actix_web::http::header::HeaderName, &str) =
    (actix_web::http::header::CACHE_CONTROL, "no-store");

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant code; omit for platform superadmins.
    #[schema(max_length = 63)]
    pub tenant: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// As the sign-in (or the last refresh) returned it.
    #[schema(min_length = 1, max_length = 512)]
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    /// The caller's tenant; null for platform superadmins.
    pub tenant: Option<TenantView>,
    pub roles: Vec<String>,
    /// Effective permissions (for API tokens: the user's ∩ the token's scopes).
    pub permissions: Vec<String>,
}

/// Sign in. Five failures for one username lock it for 15 minutes (configurable).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, description = "INVALID_CREDENTIALS", body = crate::error::ErrorEnvelope),
        (status = 403, description = "ACCOUNT_DISABLED", body = crate::error::ErrorEnvelope),
        (status = 429, description = "ACCOUNT_LOCKED", body = crate::error::ErrorEnvelope),
    )
)]
pub async fn login(
    kernel: web::Data<Kernel>,
    ctx: RequestContext,
    body: web::Json<LoginRequest>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    if body.username.is_empty() || body.username.len() > 64 {
        errors.add(
            "username",
            tr!("必须为 1 到 64 个字符", "must be 1 to 64 characters"),
        );
    }
    if body.password.is_empty() || body.password.len() > 1024 {
        errors.add(
            "password",
            tr!("必须为 1 到 1024 个字符", "must be 1 to 1024 characters"),
        );
    }
    errors.into_result()?;
    let tenant = body.tenant.as_deref().filter(|t| !t.is_empty());
    let pair = service::login(&kernel, &ctx, tenant, &body.username, &body.password).await?;
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(pair))
}

/// Exchange a refresh token for a new pair (the old one stops working; presenting it
/// again revokes the whole session).
#[utoipa::path(
    post,
    path = "/auth/refresh",
    operation_id = "refresh_token",
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::ErrorEnvelope))
)]
pub async fn refresh(
    kernel: web::Data<Kernel>,
    ctx: RequestContext,
    body: web::Json<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let pair = service::refresh(&kernel, &ctx, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(pair))
}

/// End the current session (its access and refresh tokens stop working).
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    responses((status = 204), (status = 400, body = crate::error::ErrorEnvelope), (status = 401, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn logout(
    kernel: web::Data<Kernel>,
    ctx: RequestContext,
    principal: Principal,
) -> AppResult<HttpResponse> {
    let AuthMethod::Session { session_id } = &principal.method else {
        return Err(Code::NotASession.err());
    };
    service::logout(&kernel, &ctx, principal.user_id, session_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I: user, tenant, roles and effective permissions.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "get_me",
    tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn me(kernel: web::Data<Kernel>, principal: Principal) -> AppResult<HttpResponse> {
    let tenant = if principal.tenant_id == 0 {
        None
    } else {
        tenant::Entity::find_by_id(principal.tenant_id)
            .one(&kernel.db)
            .await?
            .map(TenantView::from)
    };
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(Me {
        id: principal.user_id,
        username: principal.username.clone(),
        tenant,
        roles: kernel.rbac.roles_of(principal.user_id),
        permissions: principal.permissions(&kernel),
    }))
}
