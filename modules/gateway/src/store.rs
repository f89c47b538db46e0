//! The module's queries. Every function takes the tenant (except the keepalive
//! job's scan of every tenant's due platforms).

use chrono::{DateTime, Utc};
use sea_orm::prelude::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use shopops_kernel::crypto::PiiVault;
use shopops_kernel::AppResult;

use crate::entities::{account, platform};
use crate::service::platforms::AccountInput;

pub async fn platform<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    id: i64,
) -> AppResult<Option<platform::Model>> {
    Ok(platform::Entity::find_by_id(id)
        .filter(platform::Column::TenantId.eq(tenant))
        .one(db)
        .await?)
}

pub async fn accounts<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    platform_id: i64,
) -> AppResult<Vec<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::TenantId.eq(tenant))
        .filter(account::Column::PlatformId.eq(platform_id))
        .order_by_asc(account::Column::Position)
        .all(db)
        .await?)
}

/// Replaces a platform's accounts with `list`, secrets encrypted.
pub async fn replace_accounts<C: ConnectionTrait>(
    db: &C,
    vault: &PiiVault,
    tenant: i64,
    platform_id: i64,
    list: &[AccountInput],
) -> AppResult<Vec<account::Model>> {
    account::Entity::delete_many()
        .filter(account::Column::TenantId.eq(tenant))
        .filter(account::Column::PlatformId.eq(platform_id))
        .exec(db)
        .await?;
    let now = Utc::now();
    let mut saved = Vec::with_capacity(list.len());
    for (position, a) in list.iter().enumerate() {
        let row = account::ActiveModel {
            tenant_id: Set(tenant),
            platform_id: Set(platform_id),
            position: Set(position as i32),
            user_no: Set(vault.encrypt(&a.user_no)),
            username: Set(vault.encrypt(&a.username)),
            password: Set(vault.encrypt(&a.password)),
            state: Set("active".into()),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        saved.push(row.insert(db).await?);
    }
    Ok(saved)
}

/// Marks an account refused by the platform: it is not used again until its
/// password is replaced.
pub async fn mark_refused<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    account_id: i64,
    reason: &str,
) -> AppResult<()> {
    account::Entity::update_many()
        .col_expr(account::Column::State, Expr::value("auth_failed"))
        .col_expr(account::Column::LastError, Expr::value(reason.to_string()))
        .col_expr(account::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(account::Column::TenantId.eq(tenant))
        .filter(account::Column::Id.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Enabled platforms whose next heartbeat is due (every tenant).
pub async fn keepalive_due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> AppResult<Vec<platform::Model>> {
    Ok(platform::Entity::find()
        .filter(platform::Column::Enabled.eq(true))
        .filter(
            platform::Column::KeepaliveNextAt
                .is_null()
                .or(platform::Column::KeepaliveNextAt.lte(now)),
        )
        .order_by_asc(platform::Column::Id)
        .all(db)
        .await?)
}

/// Records a heartbeat's outcome and when the next is due.
pub async fn keepalive_result<C: ConnectionTrait>(
    db: &C,
    p: &platform::Model,
    failures: i32,
    next_at: DateTime<Utc>,
    error: Option<String>,
) -> AppResult<()> {
    let now = Utc::now();
    let mut q = platform::Entity::update_many()
        .col_expr(platform::Column::KeepaliveFailures, Expr::value(failures))
        .col_expr(platform::Column::KeepaliveNextAt, Expr::value(next_at))
        .col_expr(platform::Column::LastError, Expr::value(error.clone()));
    if error.is_none() {
        q = q.col_expr(platform::Column::LastKeepaliveAt, Expr::value(now));
    }
    q.filter(platform::Column::TenantId.eq(p.tenant_id))
        .filter(platform::Column::Id.eq(p.id))
        .exec(db)
        .await?;
    Ok(())
}
