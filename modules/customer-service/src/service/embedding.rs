//! The embedding job: makes the vectors of entries that have none by the current
//! encoder (new or changed entries, or all of them after the encoder changed), stores
//! them in `cs_kb_embeddings` and marks the entry changed so every replica's index
//! picks them up. A failure (the provider down) leaves the entries lexical-only and is
//! tried again on the next run; it never fails a write or a search.

use std::sync::Arc;
use std::time::Duration;

use shopops_kernel::{AppError, Job, Kernel};

use super::embedder::Embedder;
use super::index::entry_of;
use crate::metrics::CsMetrics;
use crate::store;

/// Entries embedded per run.
const PER_RUN: u64 = 64;

pub fn job(embedder: Embedder, metrics: Arc<CsMetrics>) -> Job {
    Job::new(
        "cs_kb_embedding",
        Duration::from_secs(5),
        move |kernel: Kernel| {
            let (embedder, metrics) = (embedder.clone(), metrics.clone());
            async move {
                let outcome = embed_missing(&kernel, &embedder).await;
                let counter = &metrics.embedded_entries;
                match outcome {
                    Ok(n) => {
                        counter.with_label_values(&["ok"]).inc_by(n as u64);
                        if n > 0 {
                            tracing::info!(entries = n, "knowledge-base entries embedded");
                        }
                        Ok(())
                    }
                    Err(e) => {
                        counter.with_label_values(&["failed"]).inc();
                        Err(e.to_string())
                    }
                }
            }
        },
    )
}

/// One pass: embeds up to [`PER_RUN`] entries; how many were.
pub async fn embed_missing(kernel: &Kernel, embedder: &Embedder) -> anyhow::Result<usize> {
    let encoder = embedder.name();
    let missing = store::entries_without_embeddings(&kernel.db, &encoder, PER_RUN).await?;
    for entry in &missing {
        let vectors = embedder.embed(entry_of(entry).texts).await?;
        let txn = shopops_kernel::db::begin_write(&kernel.db)
            .await
            .map_err(AppError::from)?;
        store::save_embeddings(&txn, entry.tenant_id, entry.id, &encoder, &vectors).await?;
        store::touch(&txn, entry.tenant_id, entry.id).await?;
        txn.commit().await?;
    }
    Ok(missing.len())
}
