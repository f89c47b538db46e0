//! `/api/v1/tenants`: the platform's tenants (superadmin).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::auth::{password, Principal};
use crate::context::Kernel;
use crate::entities::tenant;
use crate::error::{is_unique_violation, AppResult, Code, FieldErrors};
use crate::http::pagination::{Order, Page, PageQuery};
use crate::http::RequestContext;
use crate::idempotency::{self, IdempotencyRequest, WriteOutcome};
use crate::identity::users::{insert_user, view, UserView};
use crate::permissions;
use crate::validate;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<tenant::Model> for TenantView {
    fn from(m: tenant::Model) -> Self {
        Self {
            id: m.id,
            code: m.code,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    pub tenant: TenantView,
    pub admin: UserView,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantAdmin {
    /// Letters, digits and `. _ - @`, 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    /// 8 to 128 characters (docs/errors.md, `VALIDATION_ERROR`, lists the rules).
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Short unique code users log in with: 2–63 of `a-z 0-9 -`.
    #[schema(min_length = 2, max_length = 63, pattern = "^[a-z0-9-]+$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The tenant's first administrator.
    pub admin: NewTenantAdmin,
}

/// Create a tenant and its first admin (permission `tenants:create`, superadmin).
/// Accepts `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/tenants",
    tag = "tenants",
    request_body = CreateTenant,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes the request safe to retry")),
    responses(
        (status = 201, body = CreatedTenant),
        (status = 403, body = crate::error::ErrorEnvelope),
        (status = 409, body = crate::error::ErrorEnvelope),
        (status = 422, body = crate::error::ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create_tenant(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    body: web::Json<CreateTenant>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::TENANTS_CREATE)?;
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    validate::tenant_code("code", &body.code, &mut errors);
    validate::display_name("name", &body.name, &mut errors);
    validate::username("admin.username", &body.admin.username, &mut errors);
    password::check_policy(
        "admin.password",
        &body.admin.password,
        &body.admin.username,
        &mut errors,
    );
    errors.into_result()?;
    let idem = IdempotencyRequest::from_request(&req, &principal, "POST /api/v1/tenants", &body)?;
    let response = idempotency::execute(&kernel, idem, async |txn| {
        let created = tenant::ActiveModel {
            code: Set(body.code.clone()),
            name: Set(body.name.trim().to_string()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Code::TenantCodeTaken
                    .err()
                    .with_details(json!({ "field": "code" }))
            } else {
                e.into()
            }
        })?;
        let roles = vec!["admin".to_string()];
        let hash = password::hash(&body.admin.password)?;
        let admin = insert_user(txn, created.id, &body.admin.username, hash, &roles).await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: 0,
                action: "tenant.create",
                target_type: "tenant",
                target_id: created.id.to_string(),
                summary: json!({ "code": created.code, "name": created.name }),
            },
        )
        .await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: created.id,
                action: "user.create",
                target_type: "user",
                target_id: admin.id.to_string(),
                summary: json!({ "username": admin.username, "roles": roles }),
            },
        )
        .await?;
        let mut admin_view = view(&kernel, admin);
        admin_view.roles = roles.clone();
        WriteOutcome::new(
            StatusCode::CREATED,
            &CreatedTenant {
                tenant: created.into(),
                admin: admin_view,
            },
        )
    })
    .await?;
    kernel.rbac.reload(&kernel.db).await?;
    Ok(response)
}

/// List tenants (permission `tenants:read`, superadmin).
#[utoipa::path(
    get,
    path = "/tenants",
    tag = "tenants",
    params(PageQuery),
    responses((status = 200, body = Page<TenantView>), (status = 403, body = crate::error::ErrorEnvelope)),
    security(("bearer" = []))
)]
pub async fn list_tenants(
    kernel: web::Data<Kernel>,
    principal: Principal,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::TENANTS_READ)?;
    let page = query.resolve()?;
    let select = tenant::Entity::find();
    let found = page
        .fetch(
            select,
            tenant::Column::Id,
            Order::OldestFirst,
            &kernel.db,
            |t| t.id,
        )
        .await?;
    let page = found.map(TenantView::from);
    Ok(HttpResponse::Ok().json(page))
}
