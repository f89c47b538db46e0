//! `/gateway/captchas/pending` and `/gateway/captchas/{id}`: captchas waiting for a
//! person of the tenant, and their answers (permission `gateway:captcha`).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::captcha;
use crate::permissions;
use crate::service::solving;

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewayPendingCaptcha)]
pub struct PendingView {
    pub id: i64,
    /// Which platform and account asks (`platform crm account 3`).
    pub label: String,
    /// The image, Base64.
    pub image_base64: String,
    pub content_type: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Captchas waiting for an answer, oldest first (permission `gateway:captcha`).
#[utoipa::path(get, path = "/captchas/pending", tag = "gateway", operation_id = "list_pending_captchas",
    responses((status = 200, body = Vec<PendingView>)), security(("bearer" = [])))]
pub async fn pending(kernel: web::Data<Kernel>, principal: Principal) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::CAPTCHA)?;
    let rows = captcha::Entity::find()
        .filter(captcha::Column::TenantId.eq(principal.tenant_id))
        .filter(captcha::Column::Status.eq("pending"))
        .filter(captcha::Column::ExpiresAt.gt(Utc::now()))
        .order_by_asc(captcha::Column::Id)
        .all(&kernel.db)
        .await?;
    let views: Vec<PendingView> = rows
        .into_iter()
        .map(|r| PendingView {
            id: r.id,
            label: r.label,
            image_base64: r.image,
            content_type: r.content_type,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GatewayCaptchaAnswer)]
pub struct AnswerBody {
    /// The characters read from the image.
    #[schema(min_length = 1, max_length = 64)]
    pub text: String,
}

/// Answer a waiting captcha (permission `gateway:captcha`). Another tenant's captcha
/// is 404; one answered, used or expired is 409.
#[utoipa::path(post, path = "/captchas/{id}", tag = "gateway", operation_id = "answer_captcha", params(("id" = i64, Path)),
    request_body = AnswerBody,
    responses((status = 204), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn answer(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
    body: web::Json<AnswerBody>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::CAPTCHA)?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 64 {
        let mut errors = shopops_kernel::error::FieldErrors::new();
        errors.add(
            "text",
            shopops_kernel::error::Localized::fixed("须为1-64个字符", "must be 1 to 64 characters"),
        );
        return Err(shopops_kernel::AppError::validation(errors));
    }
    solving::answer(
        &kernel,
        principal.tenant_id,
        principal.user_id,
        id.into_inner(),
        text,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
