//! Each tenant's search index, kept in memory and following the knowledge base.
//!
//! Every write of a tenant's knowledge base takes the next number of its change
//! sequence (`store::next_seq`, in the writing transaction). An index remembers the
//! last number it has applied; before a search it reads the tenant's current number
//! (at most once a second, or at once after a local write) and applies the entries
//! changed since — so every replica's index follows writes made anywhere, without a
//! rebuild. A tenant's index is built on its first search.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shopops_kernel::{AppResult, Kernel};
use tokio::sync::RwLock;

use super::vectors::{EntryVectors, VectorStore};
use crate::entities::kb_entry;
use crate::retrieval::{Entry, LexicalIndex};
use crate::store;

/// How long an index trusts itself before it asks for the tenant's change number.
const RECHECK: Duration = Duration::from_secs(1);
/// An index unused this long is built afresh on its next search: deleted entries are
/// purged from the database after a day, so an index must never sleep through that.
const IDLE_REBUILD: Duration = Duration::from_secs(3600);
/// Changed entries read per query while catching up.
const CHANGES_PER_READ: u64 = 1000;

/// One tenant's index and where it stands.
pub struct TenantIndex {
    pub state: RwLock<IndexState>,
    /// A write on this replica: catch up before the next search.
    stale: AtomicBool,
    checked: Mutex<Option<Instant>>,
}

impl TenantIndex {
    /// Time since it last checked the tenant's change number (zero before the first).
    fn idle_for(&self) -> Duration {
        self.checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(Duration::ZERO, |t| t.elapsed())
    }
}

pub struct IndexState {
    /// The last change applied to the lexical index.
    pub seq: i64,
    /// The last change the vector store has (behind `seq` while it fails).
    pub dense_seq: i64,
    pub lexical: LexicalIndex,
}

/// The dense side: where vectors are searched, and the encoder whose stored vectors
/// it holds.
pub struct DenseSide {
    pub store: Arc<dyn VectorStore>,
    pub encoder: String,
}

/// Every tenant's index, and the dense side when there is one.
pub struct Indexes {
    tenants: Mutex<HashMap<i64, Arc<TenantIndex>>>,
    pub dense: Option<DenseSide>,
}

impl Indexes {
    pub fn new(dense: Option<DenseSide>) -> Self {
        Self {
            tenants: Mutex::new(HashMap::new()),
            dense,
        }
    }

    /// A write on this replica changed the tenant's knowledge base.
    pub fn changed(&self, tenant: i64) {
        if let Some(index) = self.lock().get(&tenant) {
            index.stale.store(true, Ordering::SeqCst);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<TenantIndex>>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant's index, caught up with the knowledge base.
    pub async fn current(&self, kernel: &Kernel, tenant: i64) -> AppResult<Arc<TenantIndex>> {
        let index = {
            let mut tenants = self.lock();
            if tenants
                .get(&tenant)
                .is_some_and(|i| i.idle_for() >= IDLE_REBUILD)
            {
                tenants.remove(&tenant);
            }
            tenants
                .entry(tenant)
                .or_insert_with(|| {
                    Arc::new(TenantIndex {
                        state: RwLock::new(IndexState {
                            seq: 0,
                            dense_seq: 0,
                            lexical: LexicalIndex::default(),
                        }),
                        stale: AtomicBool::new(true),
                        checked: Mutex::new(None),
                    })
                })
                .clone()
        };
        let due = {
            let checked = index.checked.lock().unwrap_or_else(|p| p.into_inner());
            index.stale.load(Ordering::SeqCst) || checked.is_none_or(|t| t.elapsed() >= RECHECK)
        };
        if due {
            self.catch_up(kernel, tenant, &index).await?;
        }
        Ok(index)
    }

    async fn catch_up(&self, kernel: &Kernel, tenant: i64, index: &TenantIndex) -> AppResult<()> {
        index.stale.store(false, Ordering::SeqCst);
        let latest = store::current_seq(&kernel.db, tenant).await?;
        *index.checked.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        {
            let state = index.state.read().await;
            let dense_behind = self.dense.is_some() && state.dense_seq < latest;
            if latest <= state.seq && !dense_behind {
                return Ok(());
            }
        }
        let mut state = index.state.write().await;
        while state.seq < latest {
            let changes = store::changes(&kernel.db, tenant, state.seq, CHANGES_PER_READ).await?;
            let Some(last) = changes.last().map(|c| c.change_seq) else {
                break;
            };
            for entry in &changes {
                apply(&mut state.lexical, entry);
            }
            state.seq = last;
        }
        if let Some(dense) = &self.dense {
            // The vector store follows on its own: when it fails (Qdrant down) the
            // lexical index is current all the same, and the store catches up later.
            if let Err(e) = self.catch_up_dense(kernel, tenant, dense, &mut state).await {
                tracing::warn!(tenant, error = %e, "vector store behind: dense hits may be stale");
            }
        }
        Ok(())
    }

    async fn catch_up_dense(
        &self,
        kernel: &Kernel,
        tenant: i64,
        dense: &DenseSide,
        state: &mut IndexState,
    ) -> AppResult<()> {
        while state.dense_seq < state.seq {
            let changes =
                store::changes(&kernel.db, tenant, state.dense_seq, CHANGES_PER_READ).await?;
            let Some(last) = changes.last().map(|c| c.change_seq) else {
                break;
            };
            let live: Vec<i64> = changes
                .iter()
                .filter(|e| e.deleted_at.is_none() && e.enabled)
                .map(|e| e.id)
                .collect();
            let mut stored = store::embeddings(&kernel.db, tenant, live, &dense.encoder).await?;
            let changed = changes
                .iter()
                .map(|e| EntryVectors {
                    id: e.id,
                    shop_id: e.shop_id,
                    vectors: stored.remove(&e.id).unwrap_or_default(),
                })
                .collect();
            dense.store.apply(tenant, changed).await?;
            state.dense_seq = last;
        }
        Ok(())
    }
}

/// One changed entry in the lexical index: gone when deleted or disabled.
fn apply(lexical: &mut LexicalIndex, entry: &kb_entry::Model) {
    if entry.deleted_at.is_some() || !entry.enabled {
        lexical.remove(entry.id);
        return;
    }
    lexical.upsert(entry_of(entry));
}

/// The retrieval engine's view of an entry: its question first, then its similar
/// questions.
pub fn entry_of(entry: &kb_entry::Model) -> Entry {
    let mut texts = vec![entry.question.clone()];
    texts.extend(
        serde_json::from_value::<Vec<String>>(entry.similar_questions.clone()).unwrap_or_default(),
    );
    Entry {
        id: entry.id,
        shop_id: entry.shop_id,
        texts,
        enabled: entry.enabled,
    }
}
