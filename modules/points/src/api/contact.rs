//! Members' personal data (e-mail, phone): encrypted at rest, found by keyed hash,
//! shown masked.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{ErrorEnvelope, FieldErrors};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::reads::{view, ProfileView};
use crate::entities::profile;
use crate::store;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// New e-mail; "" removes it; absent leaves it.
    pub email: Option<String>,
    /// New phone; "" removes it; absent leaves it.
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    pub email: Option<String>,
    pub phone: Option<String>,
}

fn check(body: &ContactRequest) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if let Some(e) = body.email.as_deref().filter(|e| !e.is_empty()) {
        let valid = e.len() <= 254
            && e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !e.chars().any(char::is_whitespace)
            });
        if !valid {
            errors.add("email", "must be an e-mail address");
        }
    }
    if let Some(p) = body.phone.as_deref().filter(|p| !p.is_empty()) {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        if !(5..=20).contains(&digits)
            || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c))
        {
            errors.add("phone", "must be 5 to 20 digits (with + - or spaces)");
        }
    }
    if body.email.is_none() && body.phone.is_none() {
        errors.add("body", "give email, phone or both");
    }
    errors.into_result()
}

/// Set a member's e-mail and phone (permission `points:manage`). Stored encrypted;
/// never returned in clear.
#[utoipa::path(put, path = "/profiles/{member_id}/contact", tag = "points", params(("member_id" = String, Path)), request_body = ContactRequest,
    responses((status = 200, body = ProfileView), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn put_contact(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    member: web::Path<String>,
    body: web::Json<ContactRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:manage")?;
    let body = body.into_inner();
    check(&body)?;
    let (tenant, member) = (principal.tenant_id, member.into_inner());
    let vault = kernel.pii.clone();
    let seal = |v: &str| (!v.is_empty()).then(|| (vault.encrypt(v.trim()), vault.index(v)));
    let response = idempotency::execute(&kernel, None, async |txn| {
        let b = store::add(txn, tenant, &member, 0, 0, Utc::now()).await?;
        let current = profile::Entity::find_by_id(b.profile_id).one(txn).await?.ok_or_else(|| AppError::internal("profile vanished"))?;
        let mut active: profile::ActiveModel = current.into();
        if let Some(email) = &body.email {
            let (enc, hash) = seal(email).unzip();
            active.email_enc = Set(enc);
            active.email_hash = Set(hash);
        }
        if let Some(phone) = &body.phone {
            let (enc, hash) = seal(phone).unzip();
            active.phone_enc = Set(enc);
            active.phone_hash = Set(hash);
        }
        active.updated_at = Set(Utc::now());
        active.update(txn).await?;
        audit::record(txn, &ctx, &principal.actor(), Change {
            tenant_id: tenant,
            action: "points.contact.update",
            target_type: "points_member",
            target_id: member.clone(),
            summary: json!({ "email_changed": body.email.is_some(), "phone_changed": body.phone.is_some(), "key_id": vault.active_key_id() }),
        })
        .await?;
        Ok(WriteOutcome::ok(serde_json::Value::Null))
    })
    .await;
    response?;
    let p = super::reads::find_profile(&kernel, tenant, &member).await?;
    Ok(HttpResponse::Ok().json(view(&kernel, p).await?))
}

/// Find a member by e-mail or phone (permission `points:read`).
#[utoipa::path(get, path = "/profiles", tag = "points", params(LookupQuery),
    responses((status = 200, body = ProfileView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn lookup(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<LookupQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, "points:read")?;
    let mut query =
        profile::Entity::find().filter(profile::Column::TenantId.eq(principal.tenant_id));
    query = match (&q.email, &q.phone) {
        (Some(e), None) => query.filter(profile::Column::EmailHash.eq(kernel.pii.index(e))),
        (None, Some(p)) => query.filter(profile::Column::PhoneHash.eq(kernel.pii.index(p))),
        _ => {
            return Err(AppError::bad_request(
                "INVALID_QUERY",
                "give exactly one of email, phone",
            ))
        }
    };
    let p = query
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("member profile"))?;
    Ok(HttpResponse::Ok().json(view(&kernel, p).await?))
}
