//! The Qdrant vector store (`cs.qdrant_url`): every tenant's vectors in one collection
//! (`cs.qdrant_collection`), each point carrying `tenant_id`, `entry_id` and `shop_id`
//! (absent for tenant-wide entries), with `tenant_id` indexed as Qdrant's tenant key.
//!
//! One collection with a tenant filter rather than a collection per tenant: sellers'
//! knowledge bases are small (hundreds to a few thousand entries) and many, and each
//! Qdrant collection carries its own segments, indexes and memory; Qdrant's
//! multitenancy guide recommends payload partitioning with `is_tenant` for exactly
//! this shape. It also keeps one collection to create, back up and watch.
//!
//! The collection is created on first use with the encoder's dimension and cosine
//! distance. A point's id is `entry_id × 32 + text index` (an entry has at most 21
//! texts), so rewriting an entry replaces its points. The client is built without
//! the start-up version check, so the server starts (and `/readyz` says why) while
//! Qdrant is down.

use std::time::{Duration, Instant};

use qdrant_client::qdrant::{
    Condition, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter, PointStruct, QueryPointsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use secrecy::ExposeSecret;
use shopops_kernel::health::ComponentHealth;
use shopops_kernel::{AppError, AppResult};
use tokio::sync::OnceCell;

use super::vectors::{EntryVectors, VectorStore};
use crate::config::CsConfig;
use crate::retrieval::DenseHit;

/// Texts an entry may have (question + 20 similar questions) fit in this many ids.
const IDS_PER_ENTRY: u64 = 32;
/// Points asked for per wanted entry: an entry may match with several of its texts.
const POINTS_PER_ENTRY: u64 = 4;

pub struct QdrantStore {
    client: Qdrant,
    collection: String,
    dim: u64,
    ready: OnceCell<()>,
}

impl QdrantStore {
    pub fn new(config: &CsConfig, url: &str, dim: usize) -> anyhow::Result<Self> {
        let client = Qdrant::from_url(url)
            .api_key(
                config
                    .qdrant_api_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_string()),
            )
            .timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()?;
        Ok(Self {
            client,
            collection: config.qdrant_collection.clone(),
            dim: dim as u64,
            ready: OnceCell::new(),
        })
    }

    /// Creates the collection and its tenant index the first time they are needed.
    async fn collection(&self) -> AppResult<&str> {
        self.ready
            .get_or_try_init(|| async {
                let exists = self.client.collection_exists(&self.collection).await;
                if !exists.map_err(unavailable)? {
                    self.client
                        .create_collection(
                            CreateCollectionBuilder::new(&self.collection).vectors_config(
                                VectorParamsBuilder::new(self.dim, Distance::Cosine),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                    self.client
                        .create_field_index(
                            CreateFieldIndexCollectionBuilder::new(
                                &self.collection,
                                "tenant_id",
                                FieldType::Integer,
                            )
                            .wait(true),
                        )
                        .await
                        .map_err(unavailable)?;
                    tracing::info!(collection = %self.collection, dim = self.dim, "Qdrant collection created");
                }
                Ok::<_, AppError>(())
            })
            .await?;
        Ok(&self.collection)
    }
}

/// Qdrant failed: the caller falls back to lexical ranking; the cause is logged here.
fn unavailable(e: qdrant_client::QdrantError) -> AppError {
    tracing::warn!(error = %e, "Qdrant call failed");
    AppError::unavailable("qdrant")
}

fn tenant_is(tenant: i64) -> Condition {
    Condition::matches("tenant_id", tenant)
}

#[async_trait::async_trait]
impl VectorStore for QdrantStore {
    fn kind(&self) -> &'static str {
        "qdrant"
    }

    async fn apply(&self, tenant: i64, changed: Vec<EntryVectors>) -> AppResult<()> {
        if changed.is_empty() {
            return Ok(());
        }
        let collection = self.collection().await?;
        let ids: Vec<i64> = changed.iter().map(|e| e.id).collect();
        self.client
            .delete_points(
                DeletePointsBuilder::new(collection)
                    .points(Filter::must([
                        tenant_is(tenant),
                        Condition::matches("entry_id", ids),
                    ]))
                    .wait(true),
            )
            .await
            .map_err(unavailable)?;
        let mut points = Vec::new();
        for entry in changed {
            for (i, vector) in entry.vectors.into_iter().enumerate() {
                let mut payload = Payload::new();
                payload.insert("tenant_id", tenant);
                payload.insert("entry_id", entry.id);
                if let Some(shop) = entry.shop_id {
                    payload.insert("shop_id", shop);
                }
                let id = entry.id as u64 * IDS_PER_ENTRY + i as u64;
                points.push(PointStruct::new(id, vector, payload));
            }
        }
        if !points.is_empty() {
            self.client
                .upsert_points(UpsertPointsBuilder::new(collection, points).wait(true))
                .await
                .map_err(unavailable)?;
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
        let collection = self.collection().await?;
        let mut filter = vec![tenant_is(tenant)];
        if let Some(shop) = shop {
            filter.push(
                Filter::should([
                    Condition::matches("shop_id", shop),
                    Condition::is_empty("shop_id"),
                ])
                .into(),
            );
        }
        let found = self
            .client
            .query(
                QueryPointsBuilder::new(collection)
                    .query(query.to_vec())
                    .filter(Filter::must(filter))
                    .limit(k as u64 * POINTS_PER_ENTRY)
                    .with_payload(true),
            )
            .await
            .map_err(unavailable)?;
        // Best first already: keep each entry's first (best) point.
        let mut hits: Vec<DenseHit> = Vec::with_capacity(k);
        for point in found.result {
            let Some(id) = point.payload.get("entry_id").and_then(|v| v.as_integer()) else {
                continue;
            };
            if hits.iter().all(|h| h.id != id) {
                hits.push(DenseHit {
                    id,
                    similarity: point.score,
                });
            }
            if hits.len() == k {
                break;
            }
        }
        Ok(hits)
    }

    async fn health(&self) -> ComponentHealth {
        let started = Instant::now();
        let answer = self.client.health_check().await;
        let latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        match answer {
            Ok(reply) => ComponentHealth {
                state: "healthy",
                latency_ms,
                reason: None,
                detail: Some(format!(
                    "Qdrant {} (collection {})",
                    reply.version, self.collection
                )),
            },
            Err(e) => ComponentHealth {
                state: "unhealthy",
                latency_ms,
                reason: Some(format!("Qdrant does not answer: {e}")),
                detail: Some(format!(
                    "dense retrieval falls back to lexical (collection {})",
                    self.collection
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs against a real Qdrant when `QDRANT_URL` is set (`make test-services` does
    /// when one is running); each run uses its own collection.
    #[tokio::test]
    async fn qdrant_behaves_as_a_store() {
        let Ok(url) = std::env::var("QDRANT_URL") else {
            eprintln!("QDRANT_URL not set: the Qdrant store is not tested");
            return;
        };
        let config = CsConfig {
            qdrant_collection: format!("shopops_test_{}", std::process::id()),
            ..CsConfig::default()
        };
        let store = QdrantStore::new(&config, &url, 4).unwrap();
        crate::service::vectors::tests::behaves_as_a_store(&store, 1).await;
        assert_eq!(store.health().await.state, "healthy");
        store
            .client
            .delete_collection(&config.qdrant_collection)
            .await
            .unwrap();
    }
}
