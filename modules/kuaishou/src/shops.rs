//! Authorised shops: tokens encrypted at rest, refreshed once per shop across all
//! replicas (a lock row in the database: `refresh_lock_until`, taken by a conditional
//! update, so it works with or without Redis), and calls made with a shop's token
//! (refreshed and retried once when the platform says it expired).

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::ToSchema;

use crate::client::response::Outcome;
use crate::entities::shop;
use crate::platform::{into_data, Platform, Tokens};

/// A shop's connection, as stored in `kuaishou_shops.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopStatus {
    /// Connected; its tokens work or are refreshed on use.
    Active,
    /// Still connected, but the last token refresh failed (an alert says so).
    RefreshFailed,
    /// Disconnected by the tenant: tokens erased, pushes no longer delivered to it.
    Revoked,
}

impl ShopStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShopStatus::Active => "active",
            ShopStatus::RefreshFailed => "refresh_failed",
            ShopStatus::Revoked => "revoked",
        }
    }
}

/// Refresh an access token this long before it expires.
const REFRESH_AHEAD: i64 = 10 * 60;
/// How long one replica may hold the refresh lock.
const LOCK_FOR: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct ShopView {
    pub id: i64,
    pub open_id: String,
    /// active, refresh_failed or revoked
    pub status: String,
    pub scopes: Vec<String>,
    pub access_expires_at: Option<chrono::DateTime<Utc>>,
    pub refresh_expires_at: Option<chrono::DateTime<Utc>>,
    pub last_refreshed_at: Option<chrono::DateTime<Utc>>,
    /// ok, access_expired (refreshed on next use), refresh_expiring (< 7 days: the
    /// seller must authorise again soon), refresh_expired, revoked, refresh_failed
    pub token_health: &'static str,
}

pub fn view(s: shop::Model) -> ShopView {
    let now = Utc::now();
    let token_health = match (s.status.as_str(), s.refresh_expires_at, s.access_expires_at) {
        ("revoked", _, _) => "revoked",
        ("refresh_failed", _, _) => "refresh_failed",
        (_, Some(r), _) if r <= now => "refresh_expired",
        (_, Some(r), _) if r - now < Duration::days(7) => "refresh_expiring",
        (_, _, Some(a)) if a <= now => "access_expired",
        _ => "ok",
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

pub async fn find(kernel: &Kernel, tenant: i64, id: i64) -> AppResult<shop::Model> {
    shop::Entity::find_by_id(id)
        .filter(shop::Column::TenantId.eq(tenant))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("Kuaishou shop"))
}

/// Stores (or re-authorises) a shop with fresh tokens, in one transaction with its audit.
pub async fn save_authorised(
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
            AppError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "KUAISHOU_OAUTH_FAILED",
                "the platform did not say which seller authorised",
            )
        })?;
    let now = Utc::now();
    let row = shop::ActiveModel {
        tenant_id: Set(tenant),
        open_id: Set(open_id.clone()),
        status: Set(ShopStatus::Active.as_str().into()),
        access_token_enc: Set(Some(kernel.pii.encrypt(&tokens.access_token))),
        refresh_token_enc: Set(Some(kernel.pii.encrypt(&tokens.refresh_token))),
        access_expires_at: Set(Some(tokens.access_expires_at)),
        refresh_expires_at: Set(Some(tokens.refresh_expires_at)),
        scopes: Set(json!(tokens.scopes)),
        refresh_lock_until: Set(None),
        last_refreshed_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let txn = sea_orm::TransactionTrait::begin(&kernel.db).await?;
    shop::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([shop::Column::TenantId, shop::Column::OpenId])
                .update_columns([
                    shop::Column::Status,
                    shop::Column::AccessTokenEnc,
                    shop::Column::RefreshTokenEnc,
                    shop::Column::AccessExpiresAt,
                    shop::Column::RefreshExpiresAt,
                    shop::Column::Scopes,
                    shop::Column::LastRefreshedAt,
                    shop::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let saved = shop::Entity::find()
        .filter(shop::Column::TenantId.eq(tenant))
        .filter(shop::Column::OpenId.eq(&open_id))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal("shop vanished after save"))?;
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
        let now = Utc::now();
        let locked = shop::Entity::update_many()
            .col_expr(
                shop::Column::RefreshLockUntil,
                Expr::value(now + Duration::seconds(LOCK_FOR)),
            )
            .filter(shop::Column::Id.eq(id))
            .filter(shop::Column::TenantId.eq(tenant))
            .filter(
                Condition::any()
                    .add(shop::Column::RefreshLockUntil.is_null())
                    .add(shop::Column::RefreshLockUntil.lt(now)),
            )
            .exec(&kernel.db)
            .await?;
        let current = find(kernel, tenant, id).await?;
        if current.last_refreshed_at.is_some_and(|t| t >= asked_at) {
            // Someone refreshed after we asked: their tokens are ours.
            if locked.rows_affected == 1 {
                release(kernel, id).await?;
            }
            return Ok(current);
        }
        if locked.rows_affected == 1 {
            let result = refresh_locked(kernel, platform, &current).await;
            release(kernel, id).await?;
            return result;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    Err(AppError::unavailable("kuaishou token refresh"))
}

async fn release(kernel: &Kernel, id: i64) -> AppResult<()> {
    shop::Entity::update_many()
        .col_expr(
            shop::Column::RefreshLockUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(shop::Column::Id.eq(id))
        .exec(&kernel.db)
        .await?;
    Ok(())
}

async fn refresh_locked(
    kernel: &Kernel,
    platform: &Platform,
    current: &shop::Model,
) -> AppResult<shop::Model> {
    if current.status == ShopStatus::Revoked.as_str() {
        return Err(AppError::conflict(
            "KUAISHOU_SHOP_REVOKED",
            "this shop was disconnected; authorise it again",
        ));
    }
    let refresh_token = current
        .refresh_token_enc
        .as_deref()
        .map(|t| kernel.pii.decrypt(t))
        .transpose()
        .map_err(AppError::internal)?
        .ok_or_else(|| {
            AppError::conflict(
                "KUAISHOU_SHOP_REVOKED",
                "this shop has no refresh token; authorise it again",
            )
        })?;
    let inherited = current
        .refresh_expires_at
        .unwrap_or_else(|| Utc::now() + Duration::days(180));
    let tokens = match platform.refresh(&refresh_token, inherited).await {
        Ok(t) => t,
        Err(e) => {
            if e.code == "KUAISHOU_OAUTH_FAILED" {
                shop::Entity::update_many()
                    .col_expr(
                        shop::Column::Status,
                        Expr::value(ShopStatus::RefreshFailed.as_str()),
                    )
                    .filter(shop::Column::Id.eq(current.id))
                    .exec(&kernel.db)
                    .await?;
            }
            return Err(e);
        }
    };
    let now = Utc::now();
    shop::Entity::update_many()
        .col_expr(
            shop::Column::AccessTokenEnc,
            Expr::value(kernel.pii.encrypt(&tokens.access_token)),
        )
        .col_expr(
            shop::Column::RefreshTokenEnc,
            Expr::value(kernel.pii.encrypt(&tokens.refresh_token)),
        )
        .col_expr(
            shop::Column::AccessExpiresAt,
            Expr::value(tokens.access_expires_at),
        )
        .col_expr(
            shop::Column::RefreshExpiresAt,
            Expr::value(tokens.refresh_expires_at),
        )
        .col_expr(shop::Column::LastRefreshedAt, Expr::value(now))
        .col_expr(
            shop::Column::Status,
            Expr::value(ShopStatus::Active.as_str()),
        )
        .col_expr(shop::Column::UpdatedAt, Expr::value(now))
        .filter(shop::Column::Id.eq(current.id))
        .exec(&kernel.db)
        .await?;
    tracing::info!(shop = current.id, "Kuaishou tokens refreshed");
    find(kernel, current.tenant_id, current.id).await
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
        .ok_or_else(|| {
            AppError::conflict(
                "KUAISHOU_SHOP_REVOKED",
                "this shop was disconnected; authorise it again",
            )
        })
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
    if shop.status == ShopStatus::Revoked.as_str() {
        return Err(AppError::conflict(
            "KUAISHOU_SHOP_REVOKED",
            "this shop was disconnected; authorise it again",
        ));
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
