//! `/cs/kb/import`, `/cs/kb/imports/{id}`: importing a file of entries as a job.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopops_kernel::audit::{self, Change};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{localize, Code as KernelCode, ErrorEnvelope, Lang};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::State;
use crate::entities::kb_import;
use crate::permissions;
use crate::service::imports::{self, ImportFormat, ImportStatus};
use crate::service::kb;
use crate::service::shops::ShopScope;
use crate::store;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The file's name, for the record; its extension gives the format when `format`
    /// is absent.
    pub file_name: Option<String>,
    /// `csv`, `jsonl` or `xlsx`; else the `Content-Type`, else the name's extension.
    pub format: Option<ImportFormat>,
    /// The shop every row answers for, unless the row names one; absent: every shop.
    pub shop_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    pub id: i64,
    pub file_name: String,
    pub format: ImportFormat,
    pub shop_id: Option<i64>,
    pub status: ImportStatus,
    /// Rows in the file (after the header).
    pub total: i64,
    /// Rows handled so far (stored or refused).
    pub done: i64,
    pub failed: i64,
    /// Refused rows (the first 1 000): `{line, reason}` or `{line, field_errors}`.
    #[schema(value_type = Vec<Object>)]
    pub errors: Value,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn view(m: kb_import::Model, lang: Lang) -> ImportView {
    let mut errors = m.errors;
    localize(&mut errors, lang);
    ImportView {
        id: m.id,
        file_name: m.file_name,
        format: m.format,
        shop_id: m.shop_id,
        status: m.status,
        total: m.total,
        done: m.done,
        failed: m.failed,
        errors,
        created_at: m.created_at,
        finished_at: m.finished_at,
    }
}

/// The format named by the query, the body's type, or the file's extension.
fn format_of(q: &ImportQuery, req: &HttpRequest) -> AppResult<ImportFormat> {
    if let Some(f) = q.format {
        return Ok(f);
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let by_type = match content_type.split(';').next().unwrap_or_default().trim() {
        "text/csv" => Some(ImportFormat::Csv),
        "application/x-ndjson" | "application/jsonl" => Some(ImportFormat::Jsonl),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            Some(ImportFormat::Xlsx)
        }
        _ => None,
    };
    by_type
        .or_else(|| q.file_name.as_deref().and_then(ImportFormat::of_name))
        .ok_or_else(ImportFormat::unsupported)
}

/// Import entries from a CSV, JSONL or XLSX file sent as the body (permission
/// `cs:kb:write`). Columns (CSV/XLSX header, JSONL keys): `question`, `answer`
/// (required), `category`, `keywords`, `similar_questions` (lists separated by `|`),
/// `shop_id`, `enabled`. Answers 202 at once; the rows are stored by a job — follow it
/// at `GET /cs/kb/imports/{id}`. One bad row never stops the others.
#[utoipa::path(post, path = "/kb/import", tag = "cs", operation_id = "import_kb", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the file, as bytes: CSV, JSONL or XLSX, named by `format`, else by the Content-Type (`text/csv`, `application/x-ndjson`, the XLSX type), else by `file_name`'s extension"),
    responses((status = 202, body = ImportView), (status = 413, body = ErrorEnvelope), (status = 415, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn import(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: HttpRequest,
    q: web::Query<ImportQuery>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_WRITE)?;
    // An import's rows may name any shop: imports are the admins'.
    if let ShopScope::Only(_) = ShopScope::of(&kernel, &principal).await? {
        principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    }
    let q = q.into_inner();
    let format = format_of(&q, &req)?;
    // Streamed, not `web::Bytes`: an upload's limit is `cs.import_max_bytes`, not the
    // server's body limit, and a refusal names it.
    let limit = state.config.import_max_bytes;
    let body = match payload.to_bytes_limited(limit).await {
        Ok(read) => read.map_err(|e| {
            KernelCode::BadRequest
                .err()
                .with_details(json!({ "reason": e.to_string() }))
        })?,
        Err(_) => return Err(imports::too_large(limit)),
    };
    let name = q
        .file_name
        .clone()
        .unwrap_or_else(|| format!("upload.{}", format_name(format)));
    let (tenant, actor) = (principal.tenant_id, principal.actor());
    let body = body.to_vec();
    idempotency::execute(&kernel, None, async |txn| {
        kb::check_shop(txn, tenant, q.shop_id).await?;
        let created = imports::create(
            txn,
            &state.config,
            tenant,
            q.shop_id,
            &name,
            format,
            body,
            &principal.username,
            false,
        )
        .await?;
        audit::record(
            txn,
            &ctx,
            &actor,
            Change {
                tenant_id: tenant,
                action: "cs.kb.import",
                target_type: "cs_kb_import",
                target_id: created.id.to_string(),
                summary: json!({ "file_name": created.file_name, "rows": created.total }),
            },
        )
        .await?;
        // A new import has refused no row yet: nothing to translate.
        WriteOutcome::new(StatusCode::ACCEPTED, &view(created, Lang::default()))
    })
    .await
}

fn format_name(format: ImportFormat) -> &'static str {
    match format {
        ImportFormat::Csv => "csv",
        ImportFormat::Jsonl => "jsonl",
        ImportFormat::Xlsx => "xlsx",
    }
}

/// An import's progress: total, done, refused rows with their lines and reasons
/// (permission `cs:kb:read`).
#[utoipa::path(get, path = "/kb/imports/{id}", tag = "cs", operation_id = "get_kb_import", params(("id" = i64, Path)),
    responses((status = 200, body = ImportView)), security(("bearer" = [])))]
pub async fn get_import(
    kernel: web::Data<Kernel>,
    principal: Principal,
    lang: Lang,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_READ)?;
    let found = store::import(&kernel.db, principal.tenant_id, id.into_inner())
        .await?
        .ok_or_else(|| AppError::not_found("cs_kb_import"))?;
    Ok(HttpResponse::Ok().json(view(found, lang)))
}
