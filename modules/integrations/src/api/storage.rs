//! `/storage`: objects of the caller's tenant (upload, download, delete, presigned
//! URLs), and the local store's signed URLs.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::State;
use crate::client::digest;
use crate::permissions;
use crate::providers::PresignMethod;
use crate::service::storage::{self as svc, SignedUrl};

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredView {
    pub key: String,
    /// The store that took it.
    pub provider: String,
    pub size: usize,
    pub content_type: String,
}

/// Upload an object (permission `integrations:storage`): the body as sent, its
/// `Content-Type` kept. Goes to the highest-priority store that is up.
#[utoipa::path(put, path = "/storage/objects/{key}", tag = "integrations", params(("key" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = StoredView), (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn put_object(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    key: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::STORAGE)?;
    let full = svc::object_key(principal.tenant_id, &key)?;
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let size = body.len();
    // The replay fingerprint: key, type and the bytes' digest (not the bytes).
    let fingerprint =
        json!({ "key": &*key, "content_type": content_type, "sha256": digest::sha256_hex(&body) });
    let idem = IdempotencyRequest::from_request(
        &req,
        &principal,
        "integrations.storage.put",
        &fingerprint,
    )?;
    let (manager, full, content_type) = (&state.manager, &full, &content_type);
    idempotency::execute_outside(
        &kernel,
        idem,
        async || svc::put(manager, full, body, content_type).await,
        async |txn, provider| {
            let view = StoredView {
                key: key.to_string(),
                provider,
                size,
                content_type: content_type.clone(),
            };
            audit::record(
                txn,
                &ctx,
                &principal.actor(),
                Change {
                    tenant_id: principal.tenant_id,
                    action: "integrations.storage.put",
                    target_type: "object",
                    target_id: view.key.clone(),
                    summary: json!({ "provider": view.provider, "size": view.size, "content_type": view.content_type }),
                },
            )
            .await?;
            WriteOutcome::new(StatusCode::CREATED, &view)
        },
    )
    .await
}

/// Download an object (permission `integrations:read`), from the first store that
/// has it.
#[utoipa::path(get, path = "/storage/objects/{key}", tag = "integrations", params(("key" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "the object's bytes"), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_object(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    key: web::Path<String>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let full = svc::object_key(principal.tenant_id, &key)?;
    let (provider, object) = svc::get(&state.manager, &full).await?;
    Ok(HttpResponse::Ok()
        .content_type(object.content_type)
        .insert_header(("X-Storage-Provider", provider))
        .body(object.bytes))
}

/// Delete an object from every store (permission `integrations:storage`).
#[utoipa::path(delete, path = "/storage/objects/{key}", tag = "integrations", params(("key" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 204), (status = 503, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn delete_object(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    key: web::Path<String>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::STORAGE)?;
    let full = svc::object_key(principal.tenant_id, &key)?;
    let idem = IdempotencyRequest::from_request(
        &req,
        &principal,
        "integrations.storage.delete",
        &json!({ "key": &*key }),
    )?;
    let (manager, full) = (&state.manager, &full);
    idempotency::execute_outside(
        &kernel,
        idem,
        async || svc::delete(manager, full).await,
        async |txn, ()| {
            audit::record(
                txn,
                &ctx,
                &principal.actor(),
                Change {
                    tenant_id: principal.tenant_id,
                    action: "integrations.storage.delete",
                    target_type: "object",
                    target_id: key.to_string(),
                    summary: json!({}),
                },
            )
            .await?;
            Ok(WriteOutcome::no_content())
        },
    )
    .await
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresignRequest {
    /// 1–512 characters, `/`-separated, no empty, `.` or `..` parts.
    #[schema(min_length = 1, max_length = 512)]
    pub key: String,
    pub method: PresignMethod,
    /// 1 s to 7 days (604800); default 900.
    #[schema(minimum = 1, maximum = 604800)]
    pub expires_secs: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Presigned {
    pub url: String,
    pub provider: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A URL to download or upload an object directly (permission
/// `integrations:storage`).
#[utoipa::path(post, path = "/storage/presign", tag = "integrations", operation_id = "presign_object", request_body = PresignRequest,
    responses((status = 200, body = Presigned), (status = 404, description = "a read of an object no store has", body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope), (status = 503, description = "STORAGE_UNAVAILABLE", body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn presign(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<PresignRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::STORAGE)?;
    let expires = svc::presign_expiry(body.expires_secs)?;
    let full = svc::object_key(principal.tenant_id, &body.key)?;
    let (provider, url) = svc::presign(&state.manager, &full, body.method, expires).await?;
    Ok(HttpResponse::Ok().json(Presigned {
        url,
        provider,
        expires_at: chrono::Utc::now() + chrono::Duration::seconds(expires.as_secs() as i64),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    pub method: String,
    pub expires: i64,
    pub signature: String,
}

/// The local store's presigned URLs (no bearer token: the signature authenticates,
/// until `expires`).
fn signed_url<'a>(key: &'a str, q: &'a SignedQuery) -> SignedUrl<'a> {
    SignedUrl {
        method: &q.method,
        key,
        expires: q.expires,
        signature: &q.signature,
    }
}

/// Read an object through a local-store presigned URL (no bearer token: the URL's
/// signature authorises exactly this method, key and expiry).
#[utoipa::path(get, path = "/storage/signed/{key}", tag = "integrations", operation_id = "get_signed_object", params(("key" = String, Path), SignedQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "the object"), (status = 403, body = ErrorEnvelope)))]
pub async fn get_signed(
    state: web::Data<State>,
    key: web::Path<String>,
    q: web::Query<SignedQuery>,
) -> AppResult<HttpResponse> {
    let object = svc::signed_get(&state.manager, &state.url_key, &signed_url(&key, &q)).await?;
    Ok(HttpResponse::Ok()
        .content_type(object.content_type)
        .body(object.bytes))
}

/// Write an object through a local-store presigned URL (no bearer token: the URL's
/// signature authorises exactly this method, key and expiry).
#[utoipa::path(put, path = "/storage/signed/{key}", tag = "integrations", operation_id = "put_signed_object", params(("key" = String, Path), SignedQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored"), (status = 403, body = ErrorEnvelope)))]
pub async fn put_signed(
    state: web::Data<State>,
    req: HttpRequest,
    key: web::Path<String>,
    q: web::Query<SignedQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    svc::signed_put(
        &state.manager,
        &state.url_key,
        &signed_url(&key, &q),
        body,
        content_type,
    )
    .await?;
    Ok(HttpResponse::Created().finish())
}
