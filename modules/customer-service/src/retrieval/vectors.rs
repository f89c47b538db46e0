//! `FlatVectors`: an exact in-memory cosine index — every query scans every vector.
//!
//! Exact and simple is right for knowledge bases of a few thousand entries, where a
//! scan costs well under a millisecond. It is memory-bound: a query reads every
//! stored float (2 KiB per 512-wide vector), so its cost grows with entries ×
//! vectors per entry × dimension. Measured (`benches/retrieval.rs`, one core,
//! 512 wide): p95 0.7 ms at 10k vectors, 6.1 ms at 50k, 12.9 ms at 100k; with the
//! lexical search and the fusion, a hybrid query stays under 15 ms p95 up to about
//! 80k vectors, and 100k vectors hold 205 MB. Use it up to ~50k vectors per tenant
//! (one per question and per similar question); past that, Qdrant.
//!
//! Rows are L2-normalised when stored, so cosine = dot product. An entry may hold
//! several rows (its question and similar questions); it scores as its best row.

use std::collections::HashMap;

use super::DenseHit;

struct Slot {
    id: i64,
    shop_id: Option<i64>,
    enabled: bool,
}

/// Exact cosine search over normalised `f32` vectors of one dimension.
pub struct FlatVectors {
    dim: usize,
    /// Row-major, `dim` floats per row.
    data: Vec<f32>,
    /// Entry slot of each row.
    row_slot: Vec<u32>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: HashMap<i64, u32>,
}

impl FlatVectors {
    pub fn new(dim: usize) -> Self {
        FlatVectors {
            dim,
            data: Vec::new(),
            row_slot: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of stored vectors.
    pub fn rows(&self) -> usize {
        self.row_slot.len()
    }

    /// Adds or replaces entry `id` with `vectors` (one per text). Zero vectors are
    /// skipped (they have no direction). Fails, changing nothing, when a vector's
    /// length is not `dim()` or it holds a non-finite value.
    pub fn upsert(
        &mut self,
        id: i64,
        shop_id: Option<i64>,
        enabled: bool,
        vectors: &[Vec<f32>],
    ) -> anyhow::Result<()> {
        for v in vectors {
            anyhow::ensure!(
                v.len() == self.dim,
                "vector of length {} in an index of {}",
                v.len(),
                self.dim
            );
            anyhow::ensure!(
                v.iter().all(|x| x.is_finite()),
                "vector with a non-finite value"
            );
        }
        self.remove(id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(Slot {
            id,
            shop_id,
            enabled,
        });
        self.by_id.insert(id, slot);
        for v in vectors {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                self.data.extend(v.iter().map(|x| x / norm));
                self.row_slot.push(slot);
            }
        }
        Ok(())
    }

    /// Removes entry `id`; returns whether it was there. Rows are swap-removed, so a
    /// write costs a scan of the row → entry table, never of the vectors.
    pub fn remove(&mut self, id: i64) -> bool {
        let Some(slot) = self.by_id.remove(&id) else {
            return false;
        };
        self.slots[slot as usize] = None;
        self.free.push(slot);
        let mut r = self.row_slot.len();
        while r > 0 {
            r -= 1;
            if self.row_slot[r] == slot {
                let last = self.row_slot.len() - 1;
                self.row_slot.swap_remove(r);
                if r != last {
                    let (head, tail) = self.data.split_at_mut(last * self.dim);
                    head[r * self.dim..(r + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
                }
                self.data.truncate(last * self.dim);
            }
        }
        true
    }

    /// The `k` entries most similar to `query` visible to `shop` (same rule as the
    /// lexical index: enabled, and no shop or that shop; `None` sees all), best
    /// first, ties by id. Empty for a zero or wrong-length query.
    pub fn search(&self, query: &[f32], shop: Option<i64>, k: usize) -> Vec<DenseHit> {
        let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        if k == 0 || query.len() != self.dim || !(norm > 0.0 && norm.is_finite()) {
            return Vec::new();
        }
        let q: Vec<f32> = query.iter().map(|x| x / norm).collect();
        let visible: Vec<bool> = self
            .slots
            .iter()
            .map(|s| {
                s.as_ref().is_some_and(|s| {
                    s.enabled && (s.shop_id.is_none() || shop.is_none() || s.shop_id == shop)
                })
            })
            .collect();
        let mut best = vec![f32::NEG_INFINITY; self.slots.len()];
        for (row, v) in self.data.chunks_exact(self.dim).enumerate() {
            let slot = self.row_slot[row] as usize;
            if visible[slot] {
                let s = dot(&q, v);
                if s > best[slot] {
                    best[slot] = s;
                }
            }
        }
        let mut hits: Vec<DenseHit> = best
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_finite())
            .filter_map(|(slot, &s)| {
                self.slots[slot].as_ref().map(|e| DenseHit {
                    id: e.id,
                    similarity: s,
                })
            })
            .collect();
        let order = |a: &DenseHit, b: &DenseHit| {
            b.similarity.total_cmp(&a.similarity).then(a.id.cmp(&b.id))
        };
        if hits.len() > k {
            hits.select_nth_unstable_by(k - 1, order);
            hits.truncate(k);
        }
        hits.sort_unstable_by(order);
        hits
    }

    /// Heap bytes of the vectors and tables.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() * 4
            + self.row_slot.capacity() * 4
            + self.slots.capacity() * std::mem::size_of::<Option<Slot>>()
            + self.by_id.capacity() * 13 * 8 / 7
    }
}

/// Dot product in eight independent lanes, so the compiler vectorises it with the
/// baseline instruction set (no `unsafe`, no target features).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[f32]) -> Vec<f32> {
        x.to_vec()
    }

    #[test]
    fn finds_the_nearest_entry_by_its_best_row() {
        let mut f = FlatVectors::new(3);
        f.upsert(1, None, true, &[v(&[1.0, 0.0, 0.0]), v(&[0.0, 1.0, 0.0])])
            .unwrap();
        f.upsert(2, None, true, &[v(&[0.7, 0.7, 0.0])]).unwrap();
        f.upsert(3, None, true, &[v(&[0.0, 0.0, 5.0])]).unwrap();
        let hits = f.search(&[0.0, 2.0, 0.0], None, 2);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 2]);
        assert!((hits[0].similarity - 1.0).abs() < 1e-6);
        assert!((hits[1].similarity - 0.70710677).abs() < 1e-5);
    }

    #[test]
    fn shop_scope_and_enabled_filter() {
        let mut f = FlatVectors::new(2);
        f.upsert(1, Some(7), true, &[v(&[1.0, 0.0])]).unwrap();
        f.upsert(2, Some(8), true, &[v(&[1.0, 0.1])]).unwrap();
        f.upsert(3, None, true, &[v(&[1.0, 0.2])]).unwrap();
        f.upsert(4, None, false, &[v(&[1.0, 0.0])]).unwrap();
        let ids = |shop| {
            f.search(&[1.0, 0.0], shop, 10)
                .iter()
                .map(|h| h.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Some(7)), vec![1, 3]);
        assert_eq!(ids(Some(8)), vec![2, 3]);
        assert_eq!(ids(None), vec![1, 2, 3]);
    }

    #[test]
    fn upsert_replaces_and_remove_keeps_other_rows_intact() {
        let mut f = FlatVectors::new(2);
        f.upsert(1, None, true, &[v(&[1.0, 0.0]), v(&[0.9, 0.1])])
            .unwrap();
        f.upsert(2, None, true, &[v(&[0.0, 1.0])]).unwrap();
        f.upsert(3, None, true, &[v(&[-1.0, 0.0])]).unwrap();
        f.upsert(1, None, true, &[v(&[0.0, -1.0])]).unwrap();
        assert_eq!((f.len(), f.rows()), (3, 3));
        assert!(f.remove(2));
        assert!(!f.remove(2));
        assert_eq!(f.search(&[-1.0, 0.0], None, 1)[0].id, 3);
        assert_eq!(f.search(&[0.0, -1.0], None, 1)[0].id, 1);
        assert!(f.search(&[0.0, 1.0], None, 5).iter().all(|h| h.id != 2));
    }

    #[test]
    fn bad_vectors_are_refused_without_change() {
        let mut f = FlatVectors::new(2);
        f.upsert(1, None, true, &[v(&[1.0, 0.0])]).unwrap();
        assert!(f.upsert(1, None, true, &[v(&[1.0, 0.0, 0.0])]).is_err());
        assert!(f.upsert(1, None, true, &[v(&[f32::NAN, 0.0])]).is_err());
        assert_eq!(f.search(&[1.0, 0.0], None, 1)[0].id, 1);
        assert!(f.search(&[0.0, 0.0], None, 1).is_empty());
        assert!(f.search(&[1.0], None, 1).is_empty());
    }
}
