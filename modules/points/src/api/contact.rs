//! Members' personal data (e-mail, phone): set, and find a member by it.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::operator;
use crate::permissions;
use crate::service::profiles::{self, ContactChange, Lookup, ProfileView};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// New e-mail; "" removes it; absent leaves it.
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// New phone, 5 to 20 digits (with + - or spaces); "" removes it; absent leaves it.
    #[schema(max_length = 32)]
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Exactly one of `email`, `phone`.
    pub email: Option<String>,
    pub phone: Option<String>,
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
    principal.require(&kernel, &permissions::MANAGE)?;
    let member = profiles::writable(&member)?;
    let change = ContactChange::parse(body.email.as_deref(), body.phone.as_deref())?;
    let op = operator(&ctx, &principal, None);
    idempotency::execute(&kernel, None, async |txn| {
        profiles::update_contact(&kernel, txn, &op, &member, &change).await?;
        Ok(WriteOutcome::ok(Value::Null))
    })
    .await?;
    let view = profiles::show(&kernel, principal.tenant_id, &member).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Find a member by e-mail or phone (permission `points:read`).
#[utoipa::path(get, path = "/profiles", tag = "points", params(LookupQuery),
    responses((status = 200, body = ProfileView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn lookup(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<LookupQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let q = q.into_inner();
    let by = Lookup::parse(q.email, q.phone)?;
    let view = profiles::lookup(&kernel, principal.tenant_id, &by).await?;
    Ok(HttpResponse::Ok().json(view))
}
