//! BM25 over character unigrams + bigrams, as an incremental in-memory inverted index.
//!
//! Documents are texts, not entries: an entry's question and each of its similar
//! questions are indexed apart, and an entry scores as its best text (a paraphrase
//! that matches one phrasing well should not be diluted by the others).
//!
//! Writes are incremental: `upsert` tokenises only the entry's own texts and inserts
//! their postings; `remove` deletes them. Collection statistics (document count,
//! total length, document frequencies = posting-list lengths) are counters kept
//! current by both, and IDF / average length are computed from them at query time,
//! so there is never a rebuild.
//!
//! Memory: a posting is one `u32` (document slot in the high 24 bits, term frequency
//! saturated at 255 in the low 8); a document's terms are not stored, they are
//! recomputed from its text (kept for `matched_text`) when it is removed or when a
//! hit's text self-score is needed. About 4 bytes per (text, distinct gram) pair plus
//! the texts themselves; see `benches/retrieval.rs` for measured figures.

use std::cell::RefCell;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;

use super::text::{self, Folding, Gram};
use super::Entry;

/// BM25 parameters and the analysis they run on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation.
    pub b: f32,
    /// Weight of a unigram relative to a bigram (query side).
    pub unigram_weight: f32,
    /// Fold tables used to normalise texts and queries.
    pub folding: Folding,
}

impl Default for Bm25Params {
    /// The standard k1 = 1.2, b = 0.75; unigrams and bigrams weigh the same (as in
    /// the prototype); full folding.
    fn default() -> Self {
        Bm25Params {
            k1: 1.2,
            b: 0.75,
            unigram_weight: 1.0,
            folding: Folding::Full,
        }
    }
}

/// One entry found by [`LexicalIndex::search`].
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalHit {
    pub id: i64,
    /// Raw BM25 score of the entry's best text.
    pub score: f32,
    /// `score` / the query's score against itself as a document, in [0, 1]: how much
    /// of the query this text explains.
    pub query_coverage: f32,
    /// `score` / the matched text's score against itself, in [0, 1]: how much of the
    /// text the query explains.
    pub text_coverage: f32,
    /// The entry text (question or similar question) that scored best.
    pub matched_text: String,
}

/// Largest number of live texts (2^24): a posting keeps its document in 24 bits.
pub const MAX_TEXTS: usize = 1 << 24;
const TF_MAX: u32 = 255;
/// Unigram term keys use this as their second unit.
const NO_UNIT: u32 = u32::MAX;

struct EntrySlot {
    id: i64,
    shop_id: Option<i64>,
    enabled: bool,
    /// Document slots of the indexed texts, parallel to `texts`.
    docs: Box<[u32]>,
    texts: Box<[Box<str>]>,
}

/// A query or text after analysis: distinct terms with their frequency.
struct Analysed {
    /// (term key, is unigram, frequency) per distinct gram.
    grams: Vec<(Option<u64>, bool, u32)>,
    /// Number of grams (with repeats): the document length.
    len: u32,
}

/// The index of one tenant's knowledge base. Not synchronised: the service wraps it
/// in a lock (searches take `&self`).
pub struct LexicalIndex {
    params: Bm25Params,
    /// Unit (character, ASCII word or number) → id. Grows only; bounded by the
    /// character repertoire.
    units: HashMap<Box<str>, u32>,
    /// Gram key (unit ids) → term id. Grows only (an emptied term keeps its id).
    terms: HashMap<u64, u32>,
    /// Per term: packed postings `doc << 8 | tf`, sorted by document slot.
    postings: Vec<Vec<u32>>,
    /// Per document slot: length in grams (0 = free slot) and owning entry slot.
    doc_len: Vec<u32>,
    doc_entry: Vec<u32>,
    free_docs: Vec<u32>,
    entries: Vec<Option<EntrySlot>>,
    free_entries: Vec<u32>,
    by_id: HashMap<i64, u32>,
    live_docs: u32,
    total_len: u64,
}

impl Default for LexicalIndex {
    fn default() -> Self {
        Self::new(Bm25Params::default())
    }
}

impl LexicalIndex {
    pub fn new(params: Bm25Params) -> Self {
        LexicalIndex {
            params,
            units: HashMap::new(),
            terms: HashMap::new(),
            postings: Vec::new(),
            doc_len: Vec::new(),
            doc_entry: Vec::new(),
            free_docs: Vec::new(),
            entries: Vec::new(),
            free_entries: Vec::new(),
            by_id: HashMap::new(),
            live_docs: 0,
            total_len: 0,
        }
    }

    pub fn params(&self) -> Bm25Params {
        self.params
    }

    /// Whether entry `id` is indexed, enabled and seen by `shop` — the test a dense
    /// hit passes before it counts, so a vector store that lags behind never brings
    /// back an entry deleted, disabled or moved to another shop.
    pub fn is_visible(&self, id: i64, shop: Option<i64>) -> bool {
        self.by_id
            .get(&id)
            .and_then(|&slot| self.entries[slot as usize].as_ref())
            .is_some_and(|e| visible(e, shop))
    }

    /// Number of entries (enabled or not).
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of indexed texts.
    pub fn text_count(&self) -> usize {
        self.live_docs as usize
    }

    /// Adds or replaces the entry `entry.id`. Texts that normalise to nothing (only
    /// greetings or punctuation) or repeat another text of the entry are not indexed.
    /// Beyond [`MAX_TEXTS`] live texts further texts are not indexed (the service's
    /// limits keep a tenant far below).
    pub fn upsert(&mut self, entry: Entry) {
        self.remove(entry.id);
        let slot = match self.free_entries.pop() {
            Some(s) => s,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        let mut docs = Vec::with_capacity(entry.texts.len());
        let mut texts = Vec::with_capacity(entry.texts.len());
        let mut seen: Vec<String> = Vec::with_capacity(entry.texts.len());
        for t in entry.texts {
            let norm = text::normalize_with(&t, self.params.folding);
            if norm.is_empty() || seen.contains(&norm) || self.live_docs as usize >= MAX_TEXTS {
                continue;
            }
            let doc = self.insert_doc(&norm, slot);
            seen.push(norm);
            docs.push(doc);
            texts.push(t.into_boxed_str());
        }
        self.entries[slot as usize] = Some(EntrySlot {
            id: entry.id,
            shop_id: entry.shop_id,
            enabled: entry.enabled,
            docs: docs.into(),
            texts: texts.into(),
        });
        self.by_id.insert(entry.id, slot);
    }

    /// Removes entry `id`; returns whether it was there.
    pub fn remove(&mut self, id: i64) -> bool {
        let Some(slot) = self.by_id.remove(&id) else {
            return false;
        };
        let Some(e) = self.entries[slot as usize].take() else {
            return false;
        };
        for (doc, t) in e.docs.iter().zip(e.texts.iter()) {
            let norm = text::normalize_with(t, self.params.folding);
            self.remove_doc(*doc, &norm);
        }
        self.free_entries.push(slot);
        true
    }

    fn insert_doc(&mut self, norm: &str, entry: u32) -> u32 {
        let doc = match self.free_docs.pop() {
            Some(d) => d,
            None => {
                self.doc_len.push(0);
                self.doc_entry.push(0);
                (self.doc_len.len() - 1) as u32
            }
        };
        let units = text::units(norm);
        let ids: Vec<u32> = units.iter().map(|u| self.unit_id(u)).collect();
        let mut tf: HashMap<u64, u32> = HashMap::new();
        let mut len = 0u32;
        for (i, &a) in ids.iter().enumerate() {
            *tf.entry(key(a, NO_UNIT)).or_default() += 1;
            len += 1;
            if let Some(&b) = ids.get(i + 1) {
                *tf.entry(key(a, b)).or_default() += 1;
                len += 1;
            }
        }
        for (k, f) in tf {
            let term = match self.terms.entry(k) {
                MapEntry::Occupied(o) => *o.get(),
                MapEntry::Vacant(v) => {
                    self.postings.push(Vec::new());
                    *v.insert((self.postings.len() - 1) as u32)
                }
            };
            let list = &mut self.postings[term as usize];
            let packed = doc << 8 | f.min(TF_MAX);
            let at = list.partition_point(|p| p >> 8 < doc);
            list.insert(at, packed);
        }
        self.doc_len[doc as usize] = len;
        self.doc_entry[doc as usize] = entry;
        self.live_docs += 1;
        self.total_len += u64::from(len);
        doc
    }

    fn remove_doc(&mut self, doc: u32, norm: &str) {
        let ids: Vec<Option<u32>> = text::units(norm)
            .iter()
            .map(|u| self.units.get(*u).copied())
            .collect();
        let mut keys: Vec<u64> = Vec::with_capacity(ids.len() * 2);
        for (i, a) in ids.iter().enumerate() {
            let Some(a) = *a else { continue };
            keys.push(key(a, NO_UNIT));
            if let Some(Some(b)) = ids.get(i + 1) {
                keys.push(key(a, *b));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            if let Some(&term) = self.terms.get(&k) {
                let list = &mut self.postings[term as usize];
                let at = list.partition_point(|p| p >> 8 < doc);
                if list.get(at).is_some_and(|p| p >> 8 == doc) {
                    list.remove(at);
                }
                if list.is_empty() {
                    list.shrink_to_fit();
                }
            }
        }
        self.total_len -= u64::from(self.doc_len[doc as usize]);
        self.doc_len[doc as usize] = 0;
        self.live_docs -= 1;
        self.free_docs.push(doc);
    }

    fn unit_id(&mut self, u: &str) -> u32 {
        if let Some(&id) = self.units.get(u) {
            return id;
        }
        let id = self.units.len() as u32;
        self.units.insert(u.into(), id);
        id
    }

    /// Analyses a text without adding anything to the vocabulary (grams made of an
    /// unknown unit get `None`: they occur in no document).
    fn analyse(&self, norm: &str) -> Analysed {
        let units = text::units(norm);
        let ids: Vec<Option<u32>> = units.iter().map(|u| self.units.get(*u).copied()).collect();
        let mut counts: HashMap<Gram<'_>, (Option<u64>, bool, u32)> = HashMap::new();
        let mut len = 0u32;
        for (i, u) in units.iter().enumerate() {
            len += 1;
            counts
                .entry(Gram::Uni(u))
                .or_insert((ids[i].map(|a| key(a, NO_UNIT)), true, 0))
                .2 += 1;
            if let Some(next) = units.get(i + 1) {
                len += 1;
                let k = match (ids[i], ids[i + 1]) {
                    (Some(a), Some(b)) => Some(key(a, b)),
                    _ => None,
                };
                counts.entry(Gram::Bi(u, next)).or_insert((k, false, 0)).2 += 1;
            }
        }
        // Sorted so sums run in one order: scores are reproducible bit for bit.
        let mut grams: Vec<_> = counts.into_values().collect();
        grams.sort_unstable_by_key(|&(k, uni, f)| (k, uni, f));
        Analysed { grams, len }
    }

    fn idf(&self, df: usize) -> f32 {
        let n = self.live_docs as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn df(&self, term_key: Option<u64>) -> usize {
        term_key
            .and_then(|k| self.terms.get(&k))
            .map_or(0, |&t| self.postings[t as usize].len())
    }

    fn tf_part(&self, tf: f32, len: f32, avgdl: f32) -> f32 {
        let p = &self.params;
        tf * (p.k1 + 1.0) / (tf + p.k1 * (1.0 - p.b + p.b * len / avgdl))
    }

    fn weight(&self, unigram: bool) -> f32 {
        if unigram {
            self.params.unigram_weight
        } else {
            1.0
        }
    }

    /// Score of an analysed text against itself as a document.
    fn self_score(&self, a: &Analysed, avgdl: f32) -> f32 {
        a.grams
            .iter()
            .map(|&(k, uni, f)| {
                self.weight(uni)
                    * self.idf(self.df(k))
                    * self.tf_part(f as f32, a.len as f32, avgdl)
            })
            .sum()
    }

    /// The `k` best entries for `query` visible to `shop`: enabled, and with no shop
    /// or, when `shop` is given, that shop (`shop = None` sees every shop's
    /// entries). Best first; ties by id. Empty when the query normalises to nothing.
    pub fn search(&self, query: &str, shop: Option<i64>, k: usize) -> Vec<LexicalHit> {
        if k == 0 || self.live_docs == 0 {
            return Vec::new();
        }
        let norm = text::normalize_with(query, self.params.folding);
        let q = self.analyse(&norm);
        if q.grams.is_empty() {
            return Vec::new();
        }
        let avgdl = (self.total_len as f32 / self.live_docs as f32).max(1.0);
        let q_self = self.self_score(&q, avgdl);

        let ranked = SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            self.accumulate(&q, shop, avgdl, &mut scratch)
        });
        let mut ranked = ranked;
        let by_score =
            |a: &(f32, i64, u32), b: &(f32, i64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if ranked.len() > k {
            ranked.select_nth_unstable_by(k - 1, by_score);
            ranked.truncate(k);
        }
        ranked.sort_unstable_by(by_score);

        ranked
            .into_iter()
            .map(|(score, id, doc)| {
                let text = self.doc_text(doc);
                let d = self.analyse(&text::normalize_with(text, self.params.folding));
                let d_self = self.self_score(&d, avgdl);
                LexicalHit {
                    id,
                    score,
                    query_coverage: ratio(score, q_self),
                    text_coverage: ratio(score, d_self),
                    matched_text: text.to_owned(),
                }
            })
            .collect()
    }

    /// Scores every document sharing a term with the query and keeps the best text
    /// of each visible entry: `(score, entry id, document slot)`, unordered.
    ///
    /// The hot loop of a search. Per query it precomputes the BM25 length factor of
    /// every short document length, so a posting with tf = 1 (nearly all of them)
    /// costs a lookup, a multiply and an add; the per-document and per-entry buffers
    /// live in a per-thread scratch and only the touched slots are reset.
    fn accumulate(
        &self,
        q: &Analysed,
        shop: Option<i64>,
        avgdl: f32,
        s: &mut Scratch,
    ) -> Vec<(f32, i64, u32)> {
        if s.acc.len() < self.doc_len.len() {
            s.acc.resize(self.doc_len.len(), 0.0);
        }
        if s.best.len() < self.entries.len() {
            s.best.resize(self.entries.len(), (0.0, 0));
        }
        let p = &self.params;
        // tf = 1 factor by document length: (k1 + 1) / (1 + k1·(1 − b + b·len/avgdl)).
        let one: Vec<f32> = (0..LEN_TABLE)
            .map(|len| (p.k1 + 1.0) / (1.0 + p.k1 * (1.0 - p.b + p.b * len as f32 / avgdl)))
            .collect();
        let Scratch {
            acc,
            touched,
            best,
            best_touched,
        } = s;
        touched.clear();
        best_touched.clear();
        for &(k_opt, uni, _) in &q.grams {
            let Some(&term) = k_opt.and_then(|kk| self.terms.get(&kk)) else {
                continue;
            };
            let list = &self.postings[term as usize];
            if list.is_empty() {
                continue;
            }
            let w = self.weight(uni) * self.idf(list.len());
            for &posting in list {
                let doc = (posting >> 8) as usize;
                let tf = posting & 0xff;
                let len = self.doc_len[doc];
                let part = if tf == 1 && (len as usize) < LEN_TABLE {
                    one[len as usize]
                } else {
                    self.tf_part(tf as f32, len as f32, avgdl)
                };
                let a = &mut acc[doc];
                if *a == 0.0 {
                    touched.push(doc as u32);
                }
                *a += w * part;
            }
        }
        for &doc in touched.iter() {
            let score = std::mem::take(&mut acc[doc as usize]);
            let entry = self.doc_entry[doc as usize];
            let Some(e) = &self.entries[entry as usize] else {
                continue;
            };
            if !visible(e, shop) {
                continue;
            }
            let b = &mut best[entry as usize];
            if b.0 == 0.0 {
                best_touched.push(entry);
                *b = (score, doc);
            } else if score > b.0 {
                *b = (score, doc);
            }
        }
        let mut out = Vec::with_capacity(best_touched.len());
        for &entry in best_touched.iter() {
            let (score, doc) = std::mem::take(&mut best[entry as usize]);
            if let Some(e) = &self.entries[entry as usize] {
                out.push((score, e.id, doc));
            }
        }
        out
    }

    fn doc_text(&self, doc: u32) -> &str {
        let entry = self.doc_entry[doc as usize];
        self.entries[entry as usize]
            .as_ref()
            .and_then(|e| e.docs.iter().position(|&d| d == doc).map(|i| &*e.texts[i]))
            .unwrap_or("")
    }

    /// Approximate heap bytes held by the index (postings, tables, texts), for the
    /// memory figures of the bench.
    pub fn heap_bytes(&self) -> usize {
        let postings: usize = self.postings.iter().map(|l| l.capacity() * 4 + 24).sum();
        let texts: usize = self
            .entries
            .iter()
            .flatten()
            .map(|e| 64 + e.docs.len() * 4 + e.texts.iter().map(|t| t.len() + 16).sum::<usize>())
            .sum();
        // hashbrown: key + value + 1 control byte per bucket, ~87.5% max load.
        let map = |n: usize, kv: usize| n * (kv + 1) * 8 / 7;
        postings
            + texts
            + map(self.terms.capacity(), 12)
            + map(self.units.capacity(), 20)
            + map(self.by_id.capacity(), 12)
            + self.doc_len.capacity() * 8
            + self.entries.capacity() * std::mem::size_of::<Option<EntrySlot>>()
    }
}

/// Document lengths (in grams) below this get a precomputed length factor.
const LEN_TABLE: usize = 256;

/// Per-thread buffers of [`LexicalIndex::accumulate`]: zero outside a search.
#[derive(Default)]
struct Scratch {
    /// Score per document slot.
    acc: Vec<f32>,
    touched: Vec<u32>,
    /// (best score, its document) per entry slot.
    best: Vec<(f32, u32)>,
    best_touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn visible(e: &EntrySlot, shop: Option<i64>) -> bool {
    e.enabled && (e.shop_id.is_none() || shop.is_none() || e.shop_id == shop)
}

fn key(a: u32, b: u32) -> u64 {
    u64::from(a) << 32 | u64::from(b)
}

fn ratio(score: f32, reference: f32) -> f32 {
    if reference > 0.0 {
        (score / reference).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
#[path = "lexical_tests.rs"]
mod tests;
