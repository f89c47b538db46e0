//! Login with throttling and lockout, refresh-token rotation with reuse detection,
//! logout.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Actor, Change};
use crate::auth::password;
use crate::auth::principal::revoked_session_key;
use crate::auth::tokens::{random_token, sha256_hex};
use crate::context::Kernel;
use crate::entities::{refresh_token, tenant, user};
use crate::error::{AppError, AppResult, Code};
use crate::http::RequestContext;
use crate::tr;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

fn invalid_credentials() -> AppError {
    Code::InvalidCredentials.err()
}

fn throttle_keys(tenant: Option<&str>, username: &str) -> (String, String) {
    let who = format!("{}:{}", tenant.unwrap_or("-"), username.to_lowercase());
    (
        format!("auth:login_failures:{who}"),
        format!("auth:login_locked:{who}"),
    )
}

/// Checks credentials. Failures count per (tenant, username) whether or not the user
/// exists, so the lockout reveals nothing about which accounts are real.
pub async fn login(
    kernel: &Kernel,
    ctx: &RequestContext,
    tenant_code: Option<&str>,
    username: &str,
    password_plain: &str,
) -> AppResult<TokenPair> {
    let cache = &kernel.cache.cache;
    let (failures_key, locked_key) = throttle_keys(tenant_code, username);
    if let Some(until) = cache.get(&locked_key).await? {
        let retry_after = until
            .parse::<i64>()
            .map(|u| (u - Utc::now().timestamp()).max(1))
            .unwrap_or(kernel.config.login_lockout_secs as i64);
        return Err(Code::AccountLocked
            .err()
            .with_details(json!({ "retry_after": retry_after })));
    }

    let tenant_id = match tenant_code {
        None => Some(0),
        Some(code) => tenant::Entity::find()
            .filter(tenant::Column::Code.eq(code))
            .one(&kernel.db)
            .await?
            .map(|t| t.id),
    };
    let found = match tenant_id {
        Some(tid) => {
            user::Entity::find()
                .filter(user::Column::TenantId.eq(tid))
                .filter(user::Column::Username.eq(username))
                .one(&kernel.db)
                .await?
        }
        None => None,
    };
    let verified = match &found {
        Some(u) => password::verify(password_plain, &u.password_hash),
        None => {
            password::verify_dummy(password_plain);
            false
        }
    };
    let Some(account) = found.filter(|_| verified) else {
        let lockout = Duration::from_secs(kernel.config.login_lockout_secs);
        let failures = cache.incr(&failures_key, lockout).await?;
        tracing::warn!(
            tenant = tenant_code.unwrap_or("-"),
            failures,
            "failed sign-in"
        );
        if failures >= kernel.config.login_max_failures as i64 {
            let until = Utc::now().timestamp() + lockout.as_secs() as i64;
            cache.set(&locked_key, &until.to_string(), lockout).await?;
            cache.delete(&failures_key).await?;
        }
        return Err(invalid_credentials());
    };
    cache.delete(&failures_key).await?;
    if !account.is_active {
        return Err(Code::AccountDisabled.err());
    }

    let txn = crate::db::begin_write(&kernel.db).await?;
    let family = uuid::Uuid::new_v4().to_string();
    let refresh = issue_refresh(kernel, &txn, &account, &family).await?;
    audit::record(
        &txn,
        ctx,
        &Actor {
            id: Some(account.id),
            name: account.username.clone(),
        },
        Change {
            tenant_id: account.tenant_id,
            action: "auth.login",
            target_type: "session",
            target_id: family.clone(),
            summary: json!({ "username": account.username }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(pair(kernel, &account, &family, refresh))
}

fn pair(kernel: &Kernel, account: &user::Model, family: &str, refresh: String) -> TokenPair {
    TokenPair {
        access_token: kernel
            .tokens
            .issue(account.id, account.tenant_id, &account.username, family),
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: kernel.config.access_token_ttl_secs,
    }
}

async fn issue_refresh<C: ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    account: &user::Model,
    family: &str,
) -> AppResult<String> {
    let token = random_token();
    let now = Utc::now();
    refresh_token::ActiveModel {
        user_id: Set(account.id),
        tenant_id: Set(account.tenant_id),
        family_id: Set(family.to_string()),
        token_hash: Set(sha256_hex(&token)),
        expires_at: Set(
            now + chrono::Duration::seconds(kernel.config.refresh_token_ttl_secs as i64)
        ),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

fn refresh_invalid(reason: &str, expired: bool) -> AppError {
    AppError::invalid_token(
        tr!(
            "刷新令牌无效，请重新登录",
            "refresh token is invalid; sign in again"
        ),
        json!({ "token_expired": expired, "reason": reason, "refresh_token_available": false }),
    )
}

/// Exchanges a refresh token for a new pair. A token that was already rotated or
/// revoked means it leaked: the whole family (every session descending from that
/// login) is revoked.
pub async fn refresh(kernel: &Kernel, ctx: &RequestContext, token: &str) -> AppResult<TokenPair> {
    let now = Utc::now();
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(sha256_hex(token)))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| refresh_invalid("unknown_refresh_token", false))?;
    if row.rotated_at.is_some() || row.revoked_at.is_some() {
        if row.rotated_at.is_some() {
            revoke_family(kernel, ctx, &row, "auth.refresh_reuse_detected").await?;
            return Err(refresh_invalid("refresh_token_reused", false));
        }
        return Err(refresh_invalid("refresh_token_revoked", false));
    }
    if row.expires_at <= now {
        return Err(refresh_invalid("refresh_token_expired", true));
    }
    let account = user::Entity::find_by_id(row.user_id)
        .one(&kernel.db)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| refresh_invalid("account_unavailable", false))?;

    let txn = crate::db::begin_write(&kernel.db).await?;
    // Conditional: of two concurrent refreshes with one token, exactly one wins.
    let rotated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if rotated.rows_affected != 1 {
        txn.rollback().await?;
        revoke_family(kernel, ctx, &row, "auth.refresh_reuse_detected").await?;
        return Err(refresh_invalid("refresh_token_reused", false));
    }
    let next = issue_refresh(kernel, &txn, &account, &row.family_id).await?;
    txn.commit().await?;
    Ok(pair(kernel, &account, &row.family_id, next))
}

async fn revoke_family(
    kernel: &Kernel,
    ctx: &RequestContext,
    row: &refresh_token::Model,
    action: &str,
) -> AppResult<()> {
    let txn = crate::db::begin_write(&kernel.db).await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(&row.family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        ctx,
        &Actor::system("auth"),
        Change {
            tenant_id: row.tenant_id,
            action,
            target_type: "session",
            target_id: row.family_id.clone(),
            summary: json!({ "user_id": row.user_id }),
        },
    )
    .await?;
    txn.commit().await?;
    kernel
        .cache
        .cache
        .set(
            &revoked_session_key(&row.family_id),
            "1",
            kernel.access_ttl() + Duration::from_secs(1),
        )
        .await?;
    if action == "auth.refresh_reuse_detected" {
        tracing::warn!(
            user_id = row.user_id,
            "refresh token reuse: session family revoked"
        );
    }
    Ok(())
}

/// Ends the session: its refresh tokens are revoked and its access tokens rejected.
pub async fn logout(
    kernel: &Kernel,
    ctx: &RequestContext,
    user_id: i64,
    session_id: &str,
) -> AppResult<()> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.eq(session_id))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("session"))?;
    revoke_family(kernel, ctx, &row, "auth.logout").await
}
