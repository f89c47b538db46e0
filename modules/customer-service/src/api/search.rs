//! `/cs/kb/search`: the hit test operators use to see why a question matches, and its
//! history (the tenant's last 100 tests).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::Set;
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{ErrorEnvelope, FieldErrors};
use shopops_kernel::http::pagination::{Order, Page, PageQuery};
use shopops_kernel::{tr, AppError, AppResult, Kernel};
use utoipa::ToSchema;

use super::State;
use crate::entities::kb_search;
use crate::permissions;
use crate::service::search::{Retrieval, SearchHit, Searcher};
use crate::service::shops::{self, ShopScope};
use crate::store;

/// Hit tests kept per tenant.
const HISTORY: u64 = 100;
/// Longest query.
const QUERY_MAX_CHARS: usize = 500;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// A buyer's question.
    #[schema(min_length = 1, max_length = 500)]
    pub query: String,
    /// Search as this shop sees the knowledge base (its entries and every shop's).
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub shop_id: Option<i64>,
    /// 1 to 20, default 5.
    #[schema(minimum = 1, maximum = 20)]
    pub top_k: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    pub hits: Vec<SearchHit>,
    /// How it was answered: `lexical`, `hybrid` (sentence vectors took part), or
    /// `lexical_fallback` (they should have, but the embeddings provider or the vector
    /// store failed).
    pub retrieval: Retrieval,
}

/// Test which entries answer a question, best first, with the confidence the routing
/// uses (permission `cs:kb:read`). Kept in the tenant's search history.
#[utoipa::path(post, path = "/kb/search", tag = "cs", operation_id = "search_kb", request_body = SearchRequest,
    responses((status = 200, body = SearchAnswer), (status = 404, body = ErrorEnvelope, description = "no such shop (among the caller's)"), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn search(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<SearchRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::KB_READ)?;
    let body = body.into_inner();
    let mut errors = FieldErrors::new();
    let query = body.query.trim();
    if query.is_empty() || query.chars().count() > QUERY_MAX_CHARS {
        errors.add(
            "query",
            tr!(
                "必须为 1 到 {QUERY_MAX_CHARS} 个字符",
                "must be 1 to {QUERY_MAX_CHARS} characters"
            ),
        );
    }
    let top_k = body.top_k.unwrap_or(5);
    if !(1..=20).contains(&top_k) {
        errors.add("top_k", tr!("必须为 1 到 20", "must be 1 to 20"));
    }
    let scope = ShopScope::of(&kernel, &principal).await?;
    if matches!(scope, ShopScope::Only(_)) && body.shop_id.is_none() {
        // Without a shop the search ranks every shop's entries.
        errors.add(
            "shop_id",
            tr!("请给出你负责的店铺", "give one of your shops"),
        );
    }
    errors.into_result()?;
    if let Some(shop) = body.shop_id {
        shops::find(&kernel.db, &scope, principal.tenant_id, shop).await?;
    }
    let searcher = Searcher {
        kernel: &kernel,
        indexes: &state.indexes,
        embedder: state.embedder.as_ref(),
        metrics: &state.metrics,
    };
    let (hits, retrieval) = searcher
        .search(principal.tenant_id, query, body.shop_id, top_k as usize)
        .await?;
    let answer = SearchAnswer { hits, retrieval };
    let results = serde_json::to_value(&answer.hits).map_err(AppError::internal)?;
    store::save_search(
        &kernel.db,
        kb_search::ActiveModel {
            tenant_id: Set(principal.tenant_id),
            user_id: Set(principal.user_id),
            query: Set(query.to_string()),
            shop_id: Set(body.shop_id),
            results: Set(results),
            created_at: Set(Utc::now()),
            ..Default::default()
        },
        principal.tenant_id,
        HISTORY,
    )
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchRecord {
    pub id: i64,
    pub query: String,
    pub shop_id: Option<i64>,
    pub user_id: i64,
    #[schema(value_type = Vec<SearchHit>)]
    pub hits: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// The tenant's last 100 hit tests, newest first (permission `cs:kb:read`).
#[utoipa::path(get, path = "/kb/search-history", tag = "cs", operation_id = "list_kb_searches", params(PageQuery),
    responses((status = 200, body = Page<SearchRecord>)), security(("bearer" = [])))]
pub async fn history(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    principal.require(&kernel, &permissions::KB_READ)?;
    let page = q.into_inner().resolve()?;
    let mut select =
        kb_search::Entity::find().filter(kb_search::Column::TenantId.eq(principal.tenant_id));
    // Tests show other shops' entries: an agent sees its own tests only.
    if let ShopScope::Only(_) = ShopScope::of(&kernel, &principal).await? {
        select = select.filter(kb_search::Column::UserId.eq(principal.user_id));
    }
    let found = page
        .fetch(
            select,
            kb_search::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |r| r.id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(found.map(|r| SearchRecord {
        id: r.id,
        query: r.query,
        shop_id: r.shop_id,
        user_id: r.user_id,
        hits: r.results,
        created_at: r.created_at,
    })))
}
