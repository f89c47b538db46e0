//! `/api/v1/users`: users of the caller's tenant, and their roles.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;

use crate::audit::{self, Actor, Change};
use crate::auth::principal::revoked_user_key;
use crate::auth::{password, Principal};
use crate::context::Kernel;
use crate::entities::{api_token, refresh_token, user, user_role};
use crate::error::{is_unique_violation, AppError, AppResult, Code, FieldErrors, Localized};
use crate::http::pagination::{Order, Page, PageQuery};
use crate::http::RequestContext;
use crate::idempotency::{self, IdempotencyRequest, WriteOutcome};
use crate::permissions;
use crate::rbac::{self, TENANT_ROLES};
use crate::tr;
use crate::validate;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub roles: Vec<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Letters, digits and `. _ - @`, 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    /// 8 to 128 characters (docs/errors.md, `VALIDATION_ERROR`, lists the rules).
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Roles in the tenant: `admin`, `agent`, `viewer` (platform: `superadmin`).
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// 8 to 128 characters (docs/errors.md, `VALIDATION_ERROR`, lists the rules).
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRoles {
    pub roles: Vec<String>,
}

pub fn view(kernel: &Kernel, m: user::Model) -> UserView {
    UserView {
        roles: kernel.rbac.roles_of(m.id),
        id: m.id,
        username: m.username,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Roles allowed in a scope: tenant roles inside a tenant, `superadmin` on the platform.
fn check_roles(tenant_id: i64, roles: &[String], errors: &mut FieldErrors) {
    let allowed: &[&str] = if tenant_id == 0 {
        &["superadmin"]
    } else {
        TENANT_ROLES
    };
    for role in roles {
        if !allowed.contains(&role.as_str()) {
            errors.add(
                "roles",
                tr!(
                    "未知角色 `{role}`；可用：{}",
                    "unknown role `{role}`; valid: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
}

/// A caller may hand out only roles whose permissions it holds itself.
fn check_grantable(kernel: &Kernel, principal: &Principal, roles: &[String]) -> AppResult<()> {
    let mine = principal.permissions(kernel);
    let missing: Vec<String> = roles
        .iter()
        .flat_map(|r| kernel.rbac.permissions_of_role(r))
        .filter(|p| !mine.contains(p))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Code::InsufficientPermissions
        .err()
        .with_message(Localized::fixed(
            "不能授予含有你自己没有的权限的角色",
            "you cannot grant a role with permissions you do not hold",
        ))
        .with_details(json!({
            "required_permissions": missing,
            "user_permissions": mine,
            "missing_permissions": missing,
        })))
}

/// Inserts a user and its roles; 409 `USERNAME_TAKEN` when the name is used in the tenant.
pub async fn insert_user<C: ConnectionTrait>(
    txn: &C,
    tenant_id: i64,
    username: &str,
    password_hash: String,
    roles: &[String],
) -> AppResult<user::Model> {
    let now = Utc::now();
    let saved = user::ActiveModel {
        tenant_id: Set(tenant_id),
        username: Set(username.to_string()),
        password_hash: Set(password_hash),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Code::UsernameTaken
                .err()
                .with_details(json!({ "field": "username" }))
        } else {
            e.into()
        }
    })?;
    set_roles(txn, saved.id, tenant_id, roles).await?;
    Ok(saved)
}

async fn set_roles<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    tenant_id: i64,
    roles: &[String],
) -> AppResult<()> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    let rows: Vec<user_role::ActiveModel> = roles
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|role| user_role::ActiveModel {
            user_id: Set(user_id),
            role: Set(role.clone()),
            tenant_id: Set(tenant_id),
        })
        .collect();
    if !rows.is_empty() {
        user_role::Entity::insert_many(rows).exec(txn).await?;
    }
    rbac::bump_version(txn).await?;
    Ok(())
}

async fn find_in_tenant<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    id: i64,
) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

/// Ends every session and API token use of a user from now on.
async fn revoke_sessions(
    kernel: &Kernel,
    txn: &DatabaseTransaction,
    user_id: i64,
) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    kernel
        .cache
        .cache
        .set(
            &revoked_user_key(user_id),
            &Utc::now().timestamp().to_string(),
            kernel.access_ttl() + Duration::from_secs(1),
        )
        .await?;
    Ok(())
}

async fn after_role_change(kernel: &Kernel) -> AppResult<()> {
    kernel.rbac.reload(&kernel.db).await?;
    Ok(())
}

/// Create a user in the caller's tenant (permission `users:create`; with roles also
/// `users:assign_roles`). Accepts `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes the request safe to retry")),
    responses(
        (status = 201, body = UserView),
        (status = 400, body = crate::error::ErrorEnvelope),
        (status = 401, body = crate::error::ErrorEnvelope),
        (status = 403, body = crate::error::ErrorEnvelope),
        (status = 409, body = crate::error::ErrorEnvelope),
        (status = 422, body = crate::error::ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create_user(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<CreateUser>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::USERS_CREATE)?;
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    validate::username("username", &body.username, &mut errors);
    password::check_policy("password", &body.password, &body.username, &mut errors);
    check_roles(principal.tenant_id, &body.roles, &mut errors);
    errors.into_result()?;
    if !body.roles.is_empty() {
        principal.require(&kernel, &permissions::USERS_ASSIGN_ROLES)?;
        check_grantable(&kernel, &principal, &body.roles)?;
    }
    let idem = IdempotencyRequest::from_request(&req, &principal, "POST /api/v1/users", &body)?;
    let response = idempotency::execute(&kernel, idem, async |txn| {
        let hash = password::hash(&body.password)?;
        let created =
            insert_user(txn, principal.tenant_id, &body.username, hash, &body.roles).await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "user.create",
                target_type: "user",
                target_id: created.id.to_string(),
                summary: json!({ "username": created.username, "roles": body.roles }),
            },
        )
        .await?;
        let mut out = view(&kernel, created);
        out.roles = body.roles.clone();
        out.roles.sort();
        out.roles.dedup();
        WriteOutcome::new(StatusCode::CREATED, &out)
    })
    .await?;
    after_role_change(&kernel).await?;
    Ok(response)
}

/// List users of the caller's tenant (permission `users:read`).
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(PageQuery),
    responses((status = 200, body = Page<UserView>), (status = 401, body = crate::error::ErrorEnvelope), (status = 403, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn list_users(
    kernel: web::Data<Kernel>,
    principal: Principal,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::USERS_READ)?;
    let page = query.resolve()?;
    let select = user::Entity::find().filter(user::Column::TenantId.eq(principal.tenant_id));
    let found = page
        .fetch(
            select,
            user::Column::Id,
            Order::OldestFirst,
            &kernel.db,
            |u| u.id,
        )
        .await?;
    let page = found.map(|u| view(&kernel, u));
    Ok(HttpResponse::Ok().json(page))
}

/// One user of the caller's tenant (permission `users:read`); another tenant's is 404.
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn get_user(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::USERS_READ)?;
    let found = find_in_tenant(&kernel.db, principal.tenant_id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(&kernel, found)))
}

/// Change a user's password or active flag (permission `users:update`). Either change
/// ends the user's sessions.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    params(("id" = i64, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorEnvelope), (status = 422, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn update_user(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<UpdateUser>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::USERS_UPDATE)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    if body.password.is_none() && body.is_active.is_none() {
        errors.add(
            "body",
            tr!(
                "请至少提供 password、is_active 之一",
                "give at least one of password, is_active"
            ),
        );
    }
    if body.is_active == Some(false) && id == principal.user_id {
        errors.add(
            "is_active",
            tr!("不能停用你自己", "you cannot deactivate yourself"),
        );
    }
    errors.into_result()?;
    idempotency::execute(&kernel, None, async |txn| {
        let current = find_in_tenant(txn, principal.tenant_id, id).await?;
        let mut active: user::ActiveModel = current.clone().into();
        if let Some(p) = &body.password {
            let mut errors = FieldErrors::new();
            password::check_policy("password", p, &current.username, &mut errors);
            errors.into_result()?;
            active.password_hash = Set(password::hash(p)?);
        }
        if let Some(a) = body.is_active {
            active.is_active = Set(a);
        }
        active.updated_at = Set(Utc::now());
        let updated = active.update(txn).await?;
        if body.password.is_some() || body.is_active == Some(false) {
            revoke_sessions(&kernel, txn, id).await?;
        }
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "user.update",
                target_type: "user",
                target_id: id.to_string(),
                summary: json!({
                    "password_changed": body.password.is_some(),
                    "is_active": { "before": current.is_active, "after": updated.is_active },
                }),
            },
        )
        .await?;
        WriteOutcome::new(StatusCode::OK, &view(&kernel, updated))
    })
    .await
}

/// Delete a user (permission `users:delete`); its sessions and API tokens end.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope), (status = 409, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn delete_user(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::USERS_DELETE)?;
    let id = id.into_inner();
    let response = idempotency::execute(&kernel, None, async |txn| {
        let current = find_in_tenant(txn, principal.tenant_id, id).await?;
        if id == principal.user_id {
            return Err(Code::CannotDeleteSelf.err());
        }
        revoke_sessions(&kernel, txn, id).await?;
        api_token::Entity::update_many()
            .col_expr(
                api_token::Column::RevokedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(api_token::Column::UserId.eq(id))
            .filter(api_token::Column::RevokedAt.is_null())
            .exec(txn)
            .await?;
        set_roles(txn, id, principal.tenant_id, &[]).await?;
        user::Entity::delete_by_id(id).exec(txn).await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "user.delete",
                target_type: "user",
                target_id: id.to_string(),
                summary: json!({ "username": current.username }),
            },
        )
        .await?;
        Ok(WriteOutcome::no_content())
    })
    .await?;
    after_role_change(&kernel).await?;
    Ok(response)
}

/// Replace a user's roles (permission `users:assign_roles`).
#[utoipa::path(
    put,
    path = "/users/{id}/roles",
    tag = "users",
    params(("id" = i64, Path)),
    request_body = AssignRoles,
    responses((status = 200, body = UserView), (status = 403, body = crate::error::ErrorEnvelope), (status = 404, body = crate::error::ErrorEnvelope), (status = 422, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn assign_roles(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<AssignRoles>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::USERS_ASSIGN_ROLES)?;
    let id = id.into_inner();
    let mut errors = FieldErrors::new();
    check_roles(principal.tenant_id, &body.roles, &mut errors);
    errors.into_result()?;
    check_grantable(&kernel, &principal, &body.roles)?;
    let response = idempotency::execute(&kernel, None, async |txn| {
        let target = find_in_tenant(txn, principal.tenant_id, id).await?;
        let before = kernel.rbac.roles_of(id);
        set_roles(txn, id, principal.tenant_id, &body.roles).await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "user.assign_roles",
                target_type: "user",
                target_id: id.to_string(),
                summary: json!({ "before": before, "after": body.roles }),
            },
        )
        .await?;
        let mut out = view(&kernel, target);
        out.roles = body.roles.clone();
        out.roles.sort();
        out.roles.dedup();
        WriteOutcome::new(StatusCode::OK, &out)
    })
    .await?;
    after_role_change(&kernel).await?;
    Ok(response)
}

/// Creates the first superadmin (bootstrap and `shopops admin create`).
pub async fn create_superadmin(
    kernel: &Kernel,
    username: &str,
    password_plain: &str,
) -> AppResult<user::Model> {
    let mut errors = FieldErrors::new();
    validate::username("username", username, &mut errors);
    password::check_policy("password", password_plain, username, &mut errors);
    errors.into_result()?;
    let ctx = RequestContext {
        request_id: format!("system-{}", uuid::Uuid::new_v4()),
        ip: None,
        user_agent: None,
    };
    let roles = vec!["superadmin".to_string()];
    let txn = crate::db::begin_write(&kernel.db).await?;
    let created = insert_user(&txn, 0, username, password::hash(password_plain)?, &roles).await?;
    audit::record(
        &txn,
        &ctx,
        &Actor::system("bootstrap"),
        Change {
            tenant_id: 0,
            action: "user.create",
            target_type: "user",
            target_id: created.id.to_string(),
            summary: json!({ "username": username, "roles": roles }),
        },
    )
    .await?;
    txn.commit().await?;
    kernel.rbac.reload(&kernel.db).await?;
    Ok(created)
}
