//! Searching the knowledge base: the lexical index, the dense side when there is one,
//! ranked with a confidence the routing uses (> 0.9 answer at once, > 0.6 LLM with the
//! entry as context). A failing dense side (an embeddings provider down) falls back
//! to lexical ranking and is counted, never a failed search.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use super::embedder::Embedder;
use super::index::Indexes;
use crate::entities::kb_entry;
use crate::metrics::CsMetrics;
use crate::retrieval::{self, Dense, MatchedBy};

/// One ranked entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub entry_id: i64,
    pub question: String,
    pub answer: String,
    /// The ranking score (comparable within one search only).
    pub score: f32,
    /// 0 to 1: how likely this entry answers the question (routing: > 0.9 auto-send,
    /// > 0.6 LLM with the entry as context).
    pub confidence: f32,
    pub matched_by: MatchedBy,
}

/// How a search was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retrieval {
    /// Lexical only (no sentence encoder configured).
    Lexical,
    /// Lexical and sentence vectors.
    Hybrid,
    /// Lexical only because the dense side failed (the embeddings provider or the
    /// vector store); counted, and alerted on through the outside-call rules.
    LexicalFallback,
}

impl Retrieval {
    pub fn as_str(self) -> &'static str {
        match self {
            Retrieval::Lexical => "lexical",
            Retrieval::Hybrid => "hybrid",
            Retrieval::LexicalFallback => "lexical_fallback",
        }
    }
}

/// What a search needs beyond the query.
pub struct Searcher<'a> {
    pub kernel: &'a Kernel,
    pub indexes: &'a Indexes,
    pub embedder: Option<&'a Embedder>,
    pub metrics: &'a CsMetrics,
}

impl Searcher<'_> {
    /// The `top_k` best entries of the tenant for `query` (as seen by `shop`).
    pub async fn search(
        &self,
        tenant: i64,
        query: &str,
        shop: Option<i64>,
        top_k: usize,
    ) -> AppResult<(Vec<SearchHit>, Retrieval)> {
        let started = std::time::Instant::now();
        let index = self.indexes.current(self.kernel, tenant).await?;
        // More candidates than asked: the confidence looks at the runner-up too.
        let pool = (top_k * 4).max(retrieval::CANDIDATES);
        let dense = self.dense(tenant, query, shop, pool).await;
        let retrieval = match (&dense, self.embedder) {
            (_, None) => Retrieval::Lexical,
            (Some(_), Some(_)) => Retrieval::Hybrid,
            (None, Some(_)) => Retrieval::LexicalFallback,
        };
        let ranked = {
            let state = index.state.read().await;
            let lexical = state.lexical.search(query, shop, pool);
            let encoder = self.embedder.map(Embedder::name).unwrap_or_default();
            let dense = dense.map(|hits| Dense {
                encoder: &encoder,
                hits: hits
                    .into_iter()
                    .filter(|h| state.lexical.is_visible(h.id, shop))
                    .collect(),
            });
            retrieval::rank(query, lexical, dense, top_k)
        };
        let ids: Vec<i64> = ranked.iter().map(|h| h.id).collect();
        let entries: HashMap<i64, kb_entry::Model> = kb_entry::Entity::find()
            .filter(kb_entry::Column::TenantId.eq(tenant))
            .filter(kb_entry::Column::Id.is_in(ids))
            .all(&self.kernel.db)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let mode = retrieval.as_str();
        self.metrics.searches.with_label_values(&[mode]).inc();
        self.metrics
            .search_seconds
            .with_label_values(&[mode])
            .observe(started.elapsed().as_secs_f64());
        let hits = ranked
            .into_iter()
            .filter_map(|hit| {
                let entry = entries.get(&hit.id)?;
                Some(SearchHit {
                    entry_id: hit.id,
                    question: entry.question.clone(),
                    answer: entry.answer.clone(),
                    score: hit.score,
                    confidence: hit.confidence,
                    matched_by: hit.matched_by,
                })
            })
            .collect();
        Ok((hits, retrieval))
    }

    /// Dense candidates, or none when there is no dense side or it failed.
    async fn dense(
        &self,
        tenant: i64,
        query: &str,
        shop: Option<i64>,
        k: usize,
    ) -> Option<Vec<retrieval::DenseHit>> {
        let (embedder, dense) = (self.embedder?, self.indexes.dense.as_ref()?);
        let vector = match embedder.embed(vec![query.to_string()]).await {
            Ok(mut v) if !v.is_empty() => v.swap_remove(0),
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "query not embedded: lexical ranking only");
                return None;
            }
        };
        match dense.store.search(tenant, &vector, shop, k).await {
            Ok(hits) => Some(hits),
            Err(e) => {
                tracing::warn!(error = %e, "vector search failed: lexical ranking only");
                None
            }
        }
    }
}
