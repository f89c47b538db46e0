//! Where the knowledge base's sentence vectors are searched, behind one trait: the
//! embedded store (default: in memory, loaded from the database) or Qdrant
//! (`cs.qdrant_url`, [`super::qdrant`]).
//!
//! Vectors are made by the embedding job ([`super::embedding`]) after an entry is
//! written and kept in `cs_kb_embeddings` whatever the store, so neither a restart nor
//! a new Qdrant computes any again; until then the entry is found lexically only. A
//! store follows the entries that change, like the lexical index ([`super::index`]
//! hands it each changed entry's vectors): a deleted or disabled entry leaves it, and
//! each vector carries its entry's shop, so a search for one shop sees that shop's
//! entries and the tenant-wide ones.

use std::collections::HashMap;
use std::sync::Mutex;

use shopops_kernel::health::ComponentHealth;
use shopops_kernel::AppResult;

use crate::retrieval::{DenseHit, FlatVectors};

/// One changed entry as a store sees it.
#[derive(Debug, Clone)]
pub struct EntryVectors {
    pub id: i64,
    pub shop_id: Option<i64>,
    /// One per text; empty: the entry leaves the store (deleted, disabled, or not
    /// embedded by the current encoder yet).
    pub vectors: Vec<Vec<f32>>,
}

#[async_trait::async_trait]
pub trait VectorStore: Send + Sync {
    /// `embedded` or `qdrant`.
    fn kind(&self) -> &'static str;

    /// Brings the tenant's vectors of these entries up to date.
    async fn apply(&self, tenant: i64, changed: Vec<EntryVectors>) -> AppResult<()>;

    /// The `k` entries of the tenant nearest to `query` (each by its best vector), as
    /// `shop` sees them (`None`: all), best first.
    async fn search(
        &self,
        tenant: i64,
        query: &[f32],
        shop: Option<i64>,
        k: usize,
    ) -> AppResult<Vec<DenseHit>>;

    /// For `/readyz` details.
    async fn health(&self) -> ComponentHealth;
}

/// Each tenant's vectors in memory, searched by an exact scan ([`FlatVectors`]: under
/// 1 ms at 10k vectors, 13 ms at 100k; docs/performance.md). Loaded from the database
/// when a tenant's index is first built.
pub struct EmbeddedStore {
    dim: usize,
    tenants: Mutex<HashMap<i64, FlatVectors>>,
}

impl EmbeddedStore {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    fn tenants(&self) -> std::sync::MutexGuard<'_, HashMap<i64, FlatVectors>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl VectorStore for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn apply(&self, tenant: i64, changed: Vec<EntryVectors>) -> AppResult<()> {
        let mut tenants = self.tenants();
        let flat = tenants
            .entry(tenant)
            .or_insert_with(|| FlatVectors::new(self.dim));
        for entry in changed {
            if entry.vectors.is_empty() {
                flat.remove(entry.id);
            } else if let Err(e) = flat.upsert(entry.id, entry.shop_id, true, &entry.vectors) {
                // Vectors of another length (stored by another encoder): the entry
                // stays lexical until the embedding job redoes it.
                tracing::warn!(entry = entry.id, error = %e, "stored vectors not loaded");
                flat.remove(entry.id);
            }
        }
        Ok(())
    }

    async fn search(
        &self,
        tenant: i64,
        query: &[f32],
        shop: Option<i64>,
        k: usize,
    ) -> AppResult<Vec<DenseHit>> {
        Ok(self
            .tenants()
            .get(&tenant)
            .map(|flat| flat.search(query, shop, k))
            .unwrap_or_default())
    }

    async fn health(&self) -> ComponentHealth {
        let tenants = self.tenants();
        let rows: usize = tenants.values().map(FlatVectors::rows).sum();
        ComponentHealth {
            state: "healthy",
            latency_ms: None,
            reason: None,
            detail: Some(format!(
                "embedded vector store: {rows} vectors of {} tenants in memory",
                tenants.len()
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn unit(i: usize, dim: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[i] = 1.0;
        v
    }

    /// What every store must do; run on the embedded store here and on Qdrant by
    /// `super::qdrant` when `QDRANT_URL` is set.
    pub(crate) async fn behaves_as_a_store(store: &dyn VectorStore, tenant: i64) {
        let dim = 4;
        let entry = |id, shop_id, axes: &[usize]| EntryVectors {
            id,
            shop_id,
            vectors: axes.iter().map(|&i| unit(i, dim)).collect(),
        };
        store
            .apply(
                tenant,
                vec![
                    entry(1, None, &[0]),
                    entry(2, Some(7), &[1, 2]),
                    entry(3, Some(8), &[2]),
                ],
            )
            .await
            .unwrap();
        store
            .apply(tenant + 1, vec![entry(9, None, &[2])])
            .await
            .unwrap();

        // An entry scores by its best vector; shop 7 sees its own and the shared ones.
        let hits = store
            .search(tenant, &unit(2, dim), Some(7), 10)
            .await
            .unwrap();
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        assert_eq!(ids[0], 2, "{hits:?}");
        assert!(!ids.contains(&3), "another shop's entry: {hits:?}");
        assert!(!ids.contains(&9), "another tenant's entry: {hits:?}");
        assert!((hits[0].similarity - 1.0).abs() < 1e-4);
        // No shop: every entry of the tenant, each once.
        let all = store.search(tenant, &unit(2, dim), None, 10).await.unwrap();
        let mut ids: Vec<i64> = all.iter().map(|h| h.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2, 3]);

        // A change replaces, an empty change removes.
        store
            .apply(
                tenant,
                vec![entry(2, Some(7), &[3]), entry(3, Some(8), &[])],
            )
            .await
            .unwrap();
        let hits = store.search(tenant, &unit(2, dim), None, 10).await.unwrap();
        assert!(hits.iter().all(|h| h.id != 3), "{hits:?}");
        let best = store.search(tenant, &unit(3, dim), None, 1).await.unwrap();
        assert_eq!(best[0].id, 2);
    }

    #[tokio::test]
    async fn the_embedded_store_behaves_as_a_store() {
        let store = EmbeddedStore::new(4);
        behaves_as_a_store(&store, 1).await;
        assert_eq!(store.health().await.state, "healthy");
    }
}
