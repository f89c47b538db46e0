//! `/readyz` details (`cs-retrieval`): which retrieval the knowledge base runs —
//! lexical only, or hybrid with which encoder (the built-in one, from where) and which
//! vector store — and whether that store answers. Informational: a failing vector
//! store degrades search to lexical, it does not make the server unready.

use std::sync::Arc;

use shopops_kernel::health::{ComponentHealth, HealthCheck};

use super::vectors::VectorStore;

pub struct RetrievalHealth {
    /// What encodes sentences; `None`: lexical retrieval only.
    encoder: Option<String>,
    store: Option<Arc<dyn VectorStore>>,
}

impl RetrievalHealth {
    pub fn new(encoder: Option<String>, store: Option<Arc<dyn VectorStore>>) -> Self {
        Self { encoder, store }
    }
}

#[async_trait::async_trait]
impl HealthCheck for RetrievalHealth {
    fn name(&self) -> &str {
        "cs-retrieval"
    }

    async fn check(&self) -> ComponentHealth {
        let (Some(encoder), Some(store)) = (&self.encoder, &self.store) else {
            return ComponentHealth {
                state: "healthy",
                latency_ms: None,
                reason: None,
                detail: Some(
                    "lexical retrieval (no sentence encoder: `make models` installs the built-in one)"
                        .into(),
                ),
            };
        };
        let mut health = store.health().await;
        let stored = health.detail.take().unwrap_or_default();
        health.detail = Some(format!("hybrid retrieval: {encoder}; {stored}"));
        health
    }
}
