//! `/cs/kb/entries`: the knowledge base's entries.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::QueryFilter;
use serde::{Deserialize, Deserializer, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Order, Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::{self, IdempotencyRequest, WriteOutcome};
use shopops_kernel::{AppError, AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::State;
use crate::entities::kb_entry;
use crate::permissions;
use crate::service::kb::{self, EntryContent, EntrySource, RawContent, Writer};
use crate::service::shops::{self, ShopScope};
use crate::store::{self, EntryFilter};

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    /// None: every shop of the tenant.
    pub shop_id: Option<i64>,
    pub question: String,
    pub answer: String,
    pub category: String,
    pub keywords: Vec<String>,
    pub similar_questions: Vec<String>,
    pub enabled: bool,
    pub source: EntrySource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<kb_entry::Model> for EntryView {
    fn from(m: kb_entry::Model) -> Self {
        Self {
            id: m.id,
            shop_id: m.shop_id,
            question: m.question,
            answer: m.answer,
            category: m.category,
            keywords: serde_json::from_value(m.keywords).unwrap_or_default(),
            similar_questions: serde_json::from_value(m.similar_questions).unwrap_or_default(),
            enabled: m.enabled,
            source: m.source,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// The shop it answers for; absent: every shop of the tenant.
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub shop_id: Option<i64>,
    #[schema(min_length = 1, max_length = 500)]
    pub question: String,
    /// Line breaks allowed.
    #[schema(min_length = 1, max_length = 5000)]
    pub answer: String,
    #[schema(max_length = 64)]
    pub category: Option<String>,
    /// At most 20, each 1 to 32 characters.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub keywords: Vec<String>,
    /// Other phrasings of the question (at most 20, each 1 to 500 characters), each
    /// indexed.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub similar_questions: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl From<NewEntry> for RawContent {
    fn from(e: NewEntry) -> Self {
        RawContent {
            shop_id: e.shop_id,
            question: e.question,
            answer: e.answer,
            category: e.category,
            keywords: e.keywords,
            similar_questions: e.similar_questions,
            enabled: e.enabled,
        }
    }
}

/// An absent field is `None`; a field given as `null` is `Some(None)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPatch {
    /// `null` makes it answer for every shop.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 9223372036854775807_i64)]
    pub shop_id: Option<Option<i64>>,
    #[schema(min_length = 1, max_length = 500)]
    pub question: Option<String>,
    #[schema(min_length = 1, max_length = 5000)]
    pub answer: Option<String>,
    #[schema(max_length = 64)]
    pub category: Option<String>,
    /// Replaces the keywords (at most 20, each 1 to 32 characters).
    #[schema(max_items = 20)]
    pub keywords: Option<Vec<String>>,
    /// Replaces the similar questions (at most 20, each 1 to 500 characters).
    #[schema(max_items = 20)]
    pub similar_questions: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntryQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Entries this shop sees (its own and every shop's).
    pub shop_id: Option<i64>,
    pub category: Option<String>,
    /// Question, answer or a similar question contains it.
    pub text: Option<String>,
}

fn writer<'a>(principal: &Principal, ctx: &'a RequestContext) -> Writer<'a> {
    Writer {
        ctx,
        actor: principal.actor(),
        tenant_id: principal.tenant_id,
    }
}

fn parsed(raw: RawContent) -> AppResult<EntryContent> {
    EntryContent::parse(raw).map_err(AppError::validation)
}

/// Add an entry (permission `cs:kb:write`; audited). Accepts `Idempotency-Key`.
#[utoipa::path(post, path = "/kb/entries", tag = "cs", operation_id = "create_kb_entry", request_body = NewEntry,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EntryView), (status = 404, body = ErrorEnvelope, description = "no such shop (among the caller's)"), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn create_entry(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: actix_web::HttpRequest,
    body: web::Json<NewEntry>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_WRITE)?;
    let body = body.into_inner();
    let idem =
        IdempotencyRequest::from_request(&req, &principal, "POST /api/v1/cs/kb/entries", &body)?;
    let content = parsed(body.into())?;
    ShopScope::of(&kernel, &principal)
        .await?
        .writes(content.shop_id, "cs_shop")?;
    let writer = writer(&principal, &ctx);
    let response = idempotency::execute(&kernel, idem, async |txn| {
        kb::check_shop(txn, principal.tenant_id, content.shop_id).await?;
        let saved = kb::create(txn, &writer, &content, EntrySource::Manual, None).await?;
        WriteOutcome::new(StatusCode::CREATED, &EntryView::from(saved))
    })
    .await?;
    state.indexes.changed(principal.tenant_id);
    Ok(response)
}

/// The tenant's entries, newest first, narrowed by shop, category or text (permission
/// `cs:kb:read`).
#[utoipa::path(get, path = "/kb/entries", tag = "cs", operation_id = "list_kb_entries", params(EntryQuery),
    responses((status = 200, body = Page<EntryView>), (status = 404, body = ErrorEnvelope, description = "no such shop (among the caller's)")), security(("bearer" = [])))]
pub async fn list_entries(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<EntryQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_READ)?;
    let q = q.into_inner();
    let scope = ShopScope::of(&kernel, &principal).await?;
    if let Some(shop) = q.shop_id {
        shops::find(&kernel.db, &scope, principal.tenant_id, shop).await?;
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve()?;
    let filter = EntryFilter {
        shop_id: q.shop_id,
        category: q.category,
        text: q.text,
    };
    let found = page
        .fetch(
            store::entries(principal.tenant_id, &filter).filter(scope.entries()),
            kb_entry::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |e| e.id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(found.map(EntryView::from)))
}

/// One entry (permission `cs:kb:read`).
#[utoipa::path(get, path = "/kb/entries/{id}", tag = "cs", operation_id = "get_kb_entry", params(("id" = i64, Path)),
    responses((status = 200, body = EntryView)), security(("bearer" = [])))]
pub async fn get_entry(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_READ)?;
    let entry = kb::find(&kernel.db, principal.tenant_id, id.into_inner()).await?;
    ShopScope::of(&kernel, &principal)
        .await?
        .reads(entry.shop_id, "cs_kb_entry")?;
    Ok(HttpResponse::Ok().json(EntryView::from(entry)))
}

/// Change an entry's fields; absent fields stay (permission `cs:kb:write`; audited).
#[utoipa::path(patch, path = "/kb/entries/{id}", tag = "cs", operation_id = "update_kb_entry", params(("id" = i64, Path)),
    request_body = EntryPatch,
    responses((status = 200, body = EntryView), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn update_entry(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<EntryPatch>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_WRITE)?;
    let (patch, id) = (body.into_inner(), id.into_inner());
    let writer = writer(&principal, &ctx);
    let scope = ShopScope::of(&kernel, &principal).await?;
    let response = idempotency::execute(&kernel, None, async |txn| {
        let current = kb::find(txn, principal.tenant_id, id).await?;
        scope.writes(current.shop_id, "cs_kb_entry")?;
        let view = EntryView::from(current.clone());
        let content = parsed(RawContent {
            shop_id: patch.shop_id.unwrap_or(view.shop_id),
            question: patch.question.clone().unwrap_or(view.question),
            answer: patch.answer.clone().unwrap_or(view.answer),
            category: Some(patch.category.clone().unwrap_or(view.category)),
            keywords: patch.keywords.clone().unwrap_or(view.keywords),
            similar_questions: patch
                .similar_questions
                .clone()
                .unwrap_or(view.similar_questions),
            enabled: Some(patch.enabled.unwrap_or(view.enabled)),
        })?;
        scope.writes(content.shop_id, "cs_shop")?;
        kb::check_shop(txn, principal.tenant_id, content.shop_id).await?;
        let saved = kb::update(txn, &writer, current, &content).await?;
        WriteOutcome::new(StatusCode::OK, &EntryView::from(saved))
    })
    .await?;
    state.indexes.changed(principal.tenant_id);
    Ok(response)
}

/// Delete an entry (permission `cs:kb:write`; audited).
#[utoipa::path(delete, path = "/kb/entries/{id}", tag = "cs", operation_id = "delete_kb_entry", params(("id" = i64, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_entry(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_WRITE)?;
    let id = id.into_inner();
    let writer = writer(&principal, &ctx);
    let scope = ShopScope::of(&kernel, &principal).await?;
    let response = idempotency::execute(&kernel, None, async |txn| {
        let current = kb::find(txn, principal.tenant_id, id).await?;
        scope.writes(current.shop_id, "cs_kb_entry")?;
        kb::delete(txn, &writer, current).await?;
        Ok(WriteOutcome::no_content())
    })
    .await?;
    state.indexes.changed(principal.tenant_id);
    Ok(response)
}
