//! Authorised shops: the OAuth round trip (a single-use `state` binds the seller's
//! return to the tenant and user who started it), tokens encrypted at rest, refreshed
//! once per shop across all replicas (a lock row in the database: `refresh_lock_until`,
//! taken by a conditional update, so it works with or without Redis), and calls made
//! with a shop's token (refreshed and retried once when the platform says it expired).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::auth::tokens::random_token;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::client::response::Outcome;
use crate::entities::shop;
use crate::error::{self, Code};
use crate::platform::{into_data, Platform, Tokens, REFRESH_TOKEN_DAYS};
use crate::store::{self, SealedTokens};

/// A shop's connection, as stored in `kuaishou_shops.status`. Read from the database
/// into this type, so a row in any other state is an error, never taken for one of
/// these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ShopStatus {
    /// Connected; its tokens work or are refreshed on use.
    #[sea_orm(string_value = "active")]
    Active,
    /// Still connected, but the last token refresh failed (an alert says so).
    #[sea_orm(string_value = "refresh_failed")]
    RefreshFailed,
    /// Disconnected by the tenant: tokens erased, pushes no longer delivered to it.
    #[sea_orm(string_value = "revoked")]
    Revoked,
}

/// How a shop's tokens stand, for people deciding whether the seller must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenHealth {
    Ok,
    /// The access token expired; it is refreshed on next use.
    AccessExpired,
    /// The refresh token expires within 7 days: the seller must authorise again soon.
    RefreshExpiring,
    RefreshExpired,
    Revoked,
    RefreshFailed,
}

/// How long a seller has to finish authorising.
const STATE_TTL: StdDuration = StdDuration::from_secs(600);
/// Refresh an access token this long before it expires.
const REFRESH_AHEAD: i64 = 10 * 60;
/// How long one replica may hold the refresh lock.
const LOCK_FOR: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopView {
    pub id: i64,
    pub open_id: String,
    pub status: ShopStatus,
    pub scopes: Vec<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub token_health: TokenHealth,
}

pub fn view(s: shop::Model) -> ShopView {
    let now = Utc::now();
    let token_health = match s.status {
        ShopStatus::Revoked => TokenHealth::Revoked,
        ShopStatus::RefreshFailed => TokenHealth::RefreshFailed,
        ShopStatus::Active => match (s.refresh_expires_at, s.access_expires_at) {
            (Some(r), _) if r <= now => TokenHealth::RefreshExpired,
            (Some(r), _) if r - now < Duration::days(7) => TokenHealth::RefreshExpiring,
            (_, Some(a)) if a <= now => TokenHealth::AccessExpired,
            _ => TokenHealth::Ok,
        },
    };
    ShopView {
        id: s.id,
        open_id: s.open_id,
        status: s.status,
        scopes: serde_json::from_value(s.scopes).unwrap_or_default(),
        access_expires_at: s.access_expires_at,
        refresh_expires_at: s.refresh_expires_at,
        last_refreshed_at: s.last_refreshed_at,
        token_health,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeUrl {
    pub url: String,
    /// Binds the callback to this tenant and user; single use.
    pub state: String,
    pub expires_in: u64,
}

/// Who started an authorisation, kept under its `state` until the seller returns.
#[derive(Debug, Serialize, Deserialize)]
struct StateOwner {
    tenant_id: i64,
    user_id: Option<i64>,
    username: String,
}

fn state_key(state: &str) -> String {
    format!("kuaishou:oauth_state:{state}")
}

/// A URL to send a seller to, to authorise one of their shops for `tenant`; the
/// redirect is `redirect_uri` or the configured one, and must be http(s).
pub async fn start_authorisation(
    kernel: &Kernel,
    platform: &Platform,
    tenant: i64,
    actor: &Actor,
    redirect_uri: Option<String>,
) -> AppResult<AuthorizeUrl> {
    let redirect = redirect_uri
        .or_else(|| platform.config.redirect_uri.clone())
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"));
    let Some(redirect) = redirect else {
        let mut errors = FieldErrors::new();
        errors.add(
            "redirect_uri",
            tr!(
                "请提供 http(s) 的 redirect_uri，或设置 KUAISHOU_REDIRECT_URI",
                "give an http(s) redirect_uri or set KUAISHOU_REDIRECT_URI"
            ),
        );
        return Err(AppError::validation(errors));
    };
    let state = random_token();
    let url = platform.authorize_url(&redirect, &state)?;
    let owner = StateOwner {
        tenant_id: tenant,
        user_id: actor.id,
        username: actor.name.clone(),
    };
    let owner = serde_json::to_string(&owner).map_err(AppError::internal)?;
    kernel
        .cache
        .cache
        .set(&state_key(&state), &owner, STATE_TTL)
        .await?;
    Ok(AuthorizeUrl {
        url,
        state,
        expires_in: STATE_TTL.as_secs(),
    })
}

/// The seller's return: the `state` is used up (a replayed callback finds nothing),
/// the code exchanged for tokens (once: a code works once), and the shop stored for
/// the tenant that started the authorisation.
pub async fn finish_authorisation(
    kernel: &Kernel,
    platform: &Platform,
    ctx: &RequestContext,
    state: Option<&str>,
    code: Option<&str>,
    declined: Option<&str>,
) -> AppResult<shop::Model> {
    let state = state
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Code::InvalidOauthState.err())?;
    let owner = kernel
        .cache
        .cache
        .get(&state_key(state))
        .await?
        .ok_or_else(|| Code::InvalidOauthState.err())?;
    kernel.cache.cache.delete(&state_key(state)).await?;
    if let Some(error) = declined {
        return Err(Code::AuthorisationDeclined
            .err()
            .with_details(json!({ "error": error })));
    }
    let code = code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Code::InvalidOauthCallback.err())?;
    let owner: StateOwner = serde_json::from_str(&owner).map_err(AppError::internal)?;
    let actor = Actor {
        id: owner.user_id,
        name: owner.username,
    };
    let tokens = platform.exchange_code(code).await?;
    save_authorised(kernel, owner.tenant_id, tokens, &actor, ctx).await
}

fn seal(kernel: &Kernel, tokens: &Tokens) -> SealedTokens {
    SealedTokens {
        access_token: kernel.pii.encrypt(&tokens.access_token),
        refresh_token: kernel.pii.encrypt(&tokens.refresh_token),
        access_expires_at: tokens.access_expires_at,
        refresh_expires_at: tokens.refresh_expires_at,
    }
}

/// Stores (or re-authorises) a shop with fresh tokens, in one transaction with its audit.
async fn save_authorised(
    kernel: &Kernel,
    tenant: i64,
    tokens: Tokens,
    actor: &Actor,
    ctx: &RequestContext,
) -> AppResult<shop::Model> {
    let open_id = tokens
        .open_id
        .clone()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            error::oauth_failed(200, None, "the answer lacks open_id".into()).with_message(tr!(
                "快手开放平台未说明是哪个卖家完成了授权",
                "the platform did not say which seller authorised"
            ))
        })?;
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let saved = store::upsert_shop(
        &txn,
        tenant,
        &open_id,
        seal(kernel, &tokens),
        &tokens.scopes,
    )
    .await?;
    audit::record(
        &txn,
        ctx,
        actor,
        Change {
            tenant_id: tenant,
            action: "kuaishou.shop.authorise",
            target_type: "kuaishou_shop",
            target_id: saved.id.to_string(),
            summary: json!({ "open_id": open_id, "scopes": tokens.scopes }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Disconnects a shop in the caller's transaction: revoked, tokens erased, audited.
pub async fn disconnect(
    txn: &DatabaseTransaction,
    ctx: &RequestContext,
    actor: &Actor,
    shop: &shop::Model,
) -> AppResult<()> {
    store::revoke_shop(txn, shop.tenant_id, shop.id).await?;
    audit::record(
        txn,
        ctx,
        actor,
        Change {
            tenant_id: shop.tenant_id,
            action: "kuaishou.shop.disconnect",
            target_type: "kuaishou_shop",
            target_id: shop.id.to_string(),
            summary: json!({ "open_id": shop.open_id }),
        },
    )
    .await?;
    Ok(())
}

/// Refreshes a shop's tokens once, whichever replica or caller asks: the first takes
/// the lock and refreshes; the others wait for its result.
pub async fn refresh(
    kernel: &Kernel,
    platform: &Platform,
    tenant: i64,
    id: i64,
) -> AppResult<shop::Model> {
    let asked_at = Utc::now();
    for _ in 0..100 {
        let until = Utc::now() + Duration::seconds(LOCK_FOR);
        let locked = store::lock_refresh(&kernel.db, tenant, id, until).await?;
        let current = store::shop(&kernel.db, tenant, id).await?;
        if current.last_refreshed_at.is_some_and(|t| t >= asked_at) {
            // Someone refreshed after we asked: their tokens are ours.
            if locked {
                store::unlock_refresh(&kernel.db, tenant, id).await?;
            }
            return Ok(current);
        }
        if locked {
            let result = refresh_locked(kernel, platform, &current).await;
            store::unlock_refresh(&kernel.db, tenant, id).await?;
            return result;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    Err(AppError::unavailable("kuaishou token refresh"))
}

async fn refresh_locked(
    kernel: &Kernel,
    platform: &Platform,
    current: &shop::Model,
) -> AppResult<shop::Model> {
    if current.status == ShopStatus::Revoked {
        return Err(error::shop_revoked());
    }
    let refresh_token = current
        .refresh_token_enc
        .as_deref()
        .map(|t| kernel.pii.decrypt(t))
        .transpose()
        .map_err(AppError::internal)?
        .ok_or_else(|| {
            error::shop_revoked().with_message(tr!(
                "该店铺没有刷新令牌，请重新授权",
                "this shop has no refresh token; authorise it again"
            ))
        })?;
    let inherited = current
        .refresh_expires_at
        .unwrap_or_else(|| Utc::now() + Duration::days(REFRESH_TOKEN_DAYS));
    let tokens = match platform.refresh(&refresh_token, inherited).await {
        Ok(t) => t,
        Err(e) => {
            // Only the platform's refusal says the seller must act; an outage does not.
            if e.code == Code::OauthFailed.def().code {
                store::set_shop_status(
                    &kernel.db,
                    current.tenant_id,
                    current.id,
                    ShopStatus::RefreshFailed,
                )
                .await?;
            }
            return Err(e);
        }
    };
    store::save_tokens(
        &kernel.db,
        current.tenant_id,
        current.id,
        seal(kernel, &tokens),
    )
    .await?;
    tracing::info!(shop = current.id, "Kuaishou tokens refreshed");
    store::shop(&kernel.db, current.tenant_id, current.id).await
}

async fn access_token(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
) -> AppResult<String> {
    let mut shop = shop.clone();
    if shop
        .access_expires_at
        .is_none_or(|t| t - Utc::now() < Duration::seconds(REFRESH_AHEAD))
    {
        shop = refresh(kernel, platform, shop.tenant_id, shop.id).await?;
    }
    shop.access_token_enc
        .as_deref()
        .map(|t| kernel.pii.decrypt(t))
        .transpose()
        .map_err(AppError::internal)?
        .ok_or_else(error::shop_revoked)
}

/// Calls a method with the shop's token; an expired or invalid token is refreshed and
/// the call retried once.
pub async fn call(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
    method: &str,
    param_json: Option<&str>,
) -> AppResult<Box<RawValue>> {
    if shop.status == ShopStatus::Revoked {
        return Err(error::shop_revoked());
    }
    let token = access_token(kernel, platform, shop).await?;
    match platform.call(method, &token, param_json).await? {
        Outcome::AuthError { .. } => {
            let refreshed = refresh(kernel, platform, shop.tenant_id, shop.id).await?;
            let token = access_token(kernel, platform, &refreshed).await?;
            into_data(platform.call(method, &token, param_json).await?)
        }
        other => into_data(other),
    }
}
