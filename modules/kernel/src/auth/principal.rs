//! The authenticated caller, extracted from `Authorization: Bearer …` — an access
//! token (JWT) or an API token (`sko_…`) — and the permission check every route makes.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::auth::tokens::{
    sha256_hex, AccessClaims, AccessError, VerifiedAccess, API_TOKEN_PREFIX,
};
use crate::context::Kernel;
use crate::entities::{api_token, user};
use crate::error::{AppError, AppResult, Code};
use crate::module::Permission;
use crate::tr;

#[derive(Debug, Clone)]
pub enum AuthMethod {
    /// An interactive session: access token of a refresh-token family.
    Session { session_id: String },
    /// A machine caller; effective permissions are the user's ∩ the token's scopes.
    ApiToken { token_id: i64, scopes: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    /// The tenant every query of this request is scoped to (0 = platform).
    pub tenant_id: i64,
    pub username: String,
    pub method: AuthMethod,
}

pub(crate) fn revoked_session_key(sid: &str) -> String {
    format!("auth:revoked:sid:{sid}")
}

pub(crate) fn revoked_user_key(user_id: i64) -> String {
    format!("auth:revoked:user:{user_id}")
}

fn missing_token() -> AppError {
    AppError::invalid_token(
        tr!(
            "需要登录：请发送 Authorization: Bearer <令牌>",
            "authentication required: send Authorization: Bearer <token>"
        ),
        json!({ "token_expired": false, "reason": "missing_token" }),
    )
}

fn invalid(reason: &str) -> AppError {
    Code::InvalidToken
        .err()
        .with_details(json!({ "token_expired": false, "reason": reason }))
}

impl FromRequest for Principal {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Extracted once per request: a handler and the helpers it calls may each ask.
        if let Some(principal) = req.extensions().get::<Principal>().cloned() {
            return Box::pin(async move { Ok(principal) });
        }
        let verified = req.extensions().get::<VerifiedAccess>().cloned();
        let request = req.clone();
        let kernel = req.app_data::<web::Data<Kernel>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::pin(async move {
            let kernel = kernel.ok_or_else(|| AppError::internal("kernel not registered"))?;
            let header = header.ok_or_else(missing_token)?;
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(missing_token)?;
            let principal = if token.starts_with(API_TOKEN_PREFIX) {
                from_api_token(&kernel, token).await?
            } else {
                let verified = verified.filter(|v| v.token == token).map(|v| v.claims);
                from_access_token(&kernel, token, verified).await?
            };
            tracing::Span::current().record("tenant", principal.tenant_id);
            request.extensions_mut().insert(principal.clone());
            Ok(principal)
        })
    }
}

/// The caller of an access token; `verified`: its claims when the rate limiter has
/// verified it already in this request.
async fn from_access_token(
    kernel: &Kernel,
    token: &str,
    verified: Option<AccessClaims>,
) -> AppResult<Principal> {
    let claims = match verified {
        Some(claims) => claims,
        None => verify_access(kernel, token)?,
    };
    let user_id: i64 = claims.sub.parse().map_err(|_| invalid("invalid_token"))?;
    // Both revocation marks in one cache round trip.
    let marks = kernel
        .cache
        .cache
        .get_many(&[
            &revoked_session_key(&claims.sid),
            &revoked_user_key(user_id),
        ])
        .await?;
    if marks.first().is_some_and(Option::is_some) {
        return Err(invalid("session_revoked"));
    }
    if let Some(Some(at)) = marks.get(1) {
        if at.parse::<i64>().is_ok_and(|at| claims.iat <= at) {
            return Err(invalid("session_revoked"));
        }
    }
    Ok(Principal {
        user_id,
        tenant_id: claims.tid,
        username: claims.usr,
        method: AuthMethod::Session {
            session_id: claims.sid,
        },
    })
}

fn verify_access(kernel: &Kernel, token: &str) -> AppResult<AccessClaims> {
    kernel.verify_access(token).map_err(|e| match e {
        AccessError::Expired { expired_at } => AppError::invalid_token(
            tr!(
                "访问令牌已过期，请使用刷新令牌",
                "access token has expired; use the refresh token"
            ),
            json!({
                "token_expired": true,
                "expiry_time": chrono::DateTime::from_timestamp(expired_at, 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "refresh_token_available": true,
            }),
        ),
        AccessError::Invalid(_) => invalid("invalid_token"),
    })
}

async fn from_api_token(kernel: &Kernel, token: &str) -> AppResult<Principal> {
    let now = chrono::Utc::now();
    let row = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(sha256_hex(token)))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| invalid("unknown_api_token"))?;
    if row.revoked_at.is_some() {
        return Err(invalid("api_token_revoked"));
    }
    if row.expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::invalid_token(
            tr!("API 令牌已过期", "API token has expired"),
            json!({ "token_expired": true, "refresh_token_available": false }),
        ));
    }
    let owner = user::Entity::find_by_id(row.user_id)
        .one(&kernel.db)
        .await?
        .filter(|u| u.is_active && u.tenant_id == row.tenant_id)
        .ok_or_else(|| invalid("api_token_owner_inactive"))?;
    // Last-used time at minute precision: one write per token per minute at most.
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::seconds(60))
    {
        api_token::Entity::update_many()
            .col_expr(
                api_token::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_token::Column::Id.eq(row.id))
            .exec(&kernel.db)
            .await?;
    }
    let scopes = serde_json::from_value::<Vec<String>>(row.scopes).unwrap_or_default();
    Ok(Principal {
        user_id: owner.id,
        tenant_id: owner.tenant_id,
        username: owner.username,
        method: AuthMethod::ApiToken {
            token_id: row.id,
            scopes,
        },
    })
}

impl Principal {
    /// The caller's effective permissions.
    pub fn permissions(&self, kernel: &Kernel) -> Vec<String> {
        let mut perms = kernel.rbac.permissions_of(self.user_id);
        if let AuthMethod::ApiToken { scopes, .. } = &self.method {
            perms.retain(|p| scopes.contains(p));
        }
        perms
    }

    /// 403 `INSUFFICIENT_PERMISSIONS` unless the caller holds `permission` in its tenant.
    /// Refuses (403 with the missing permission) unless the caller holds `permission`
    /// by role and, for an API token, by scope.
    pub fn require(&self, kernel: &Kernel, permission: &Permission) -> AppResult<()> {
        let permission = permission.name;
        let by_role = kernel.rbac.allows(self.user_id, self.tenant_id, permission);
        let by_scope = match &self.method {
            AuthMethod::ApiToken { scopes, .. } => scopes.iter().any(|s| s == permission),
            AuthMethod::Session { .. } => true,
        };
        if by_role && by_scope {
            return Ok(());
        }
        Err(Code::InsufficientPermissions.err().with_details(json!({
            "required_permissions": [permission],
            "user_permissions": self.permissions(kernel),
            "missing_permissions": [permission],
        })))
    }

    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            id: Some(self.user_id),
            name: self.username.clone(),
        }
    }
}
