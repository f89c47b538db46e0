//! The retrieval engine: finds the knowledge-base entry that answers a buyer's
//! question, and says how sure it is. Pure (no database, no HTTP): the service keeps
//! one index per tenant and feeds it entries.
//!
//! # How the service uses it
//!
//! ```text
//! entries ──upsert/remove──► LexicalIndex (per tenant, in memory, incremental)
//!         ──Encoder::embed─► vector store (FlatVectors in process, or Qdrant)
//!
//! query ──► LexicalIndex::search(query, shop, CANDIDATES)      ─┐
//!       ──► Encoder::embed + store search (when an encoder is on) ─┴► rank(..) ─► Vec<Hit>
//! ```
//!
//! - [`LexicalIndex`]: BM25 over character unigrams + bigrams ([`text`] does the
//!   normalisation). `upsert(Entry)`, `remove(id)`, `search(query, shop, k)`,
//!   `len()`. An entry's texts are its question then its similar questions; an
//!   entry scores as its best text. `shop = Some(S)` sees entries of shop S and
//!   entries with no shop; `shop = None` sees all. Disabled entries are indexed
//!   but never returned.
//! - [`Encoder`]: the sentence encoder seam (built-in encoder, HTTP embeddings).
//! - [`FlatVectors`]: an exact in-memory cosine index (the basis of the embedded
//!   vector store); it returns [`DenseHit`]s, as any vector store must.
//! - [`rank`]: fuses the lexical hits and (optionally) the dense hits into [`Hit`]s,
//!   best first, each with a routing `confidence` in [0, 1] (> 0.9 auto-send, > 0.6
//!   LLM with KB context). Call it with at least [`CANDIDATES`] lexical hits and as
//!   many dense hits: the confidence looks at the runner-up.
//!
//! The confidence is a logistic calibration of a few scale-free features (coverage
//! of the query, gap to the runner-up, cosine) fitted offline on generated data; see
//! [`confidence`] and `docs/customer-service.md`.

pub mod calibrate;
pub mod confidence;
pub mod encoder;
pub mod fusion;
pub mod lexical;
pub mod synth;
pub mod text;
pub mod vectors;

pub use fusion::{rank, rank_features, rank_with, Dense, Hit, MatchedBy};
pub use lexical::{Bm25Params, LexicalHit, LexicalIndex};
pub use vectors::FlatVectors;

/// How many candidates of each kind [`rank`] should be given.
pub const CANDIDATES: usize = 30;

/// One knowledge-base entry as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    /// `None` = every shop of the tenant.
    pub shop_id: Option<i64>,
    /// The question first, then its similar questions.
    pub texts: Vec<String>,
    pub enabled: bool,
}

/// A sentence encoder: the built-in model, or an embeddings provider.
pub trait Encoder: Send + Sync {
    /// Stable name of the model; [`rank`] picks the fusion weights and calibration
    /// by it (see [`confidence::profile_for`]).
    fn name(&self) -> &str;
    /// Length of every vector `embed` returns.
    fn dim(&self) -> usize;
    /// One vector per text, in order. Need not be normalised.
    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>>;
}

/// One entry found by a vector store: its best cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseHit {
    pub id: i64,
    pub similarity: f32,
}

#[cfg(test)]
mod tests;
