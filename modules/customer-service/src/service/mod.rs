//! The module's behaviour, independent of HTTP.
//!
//! - [`kb`]: entries (what a valid one is, writing them); [`imports`]: files of
//!   entries imported as a job;
//! - [`index`]: each tenant's in-memory index, following the knowledge base;
//!   [`search`]: ranked hits with their confidence;
//! - [`embedder`], [`embedding`], [`vectors`] + [`qdrant`]: sentence vectors (built-in
//!   encoder or an embeddings provider), the job that makes them, where they are
//!   searched; [`health`]: what `/readyz` says of them;
//! - [`shops`], [`settings`]: shops, their agents and rules, the tenant's settings;
//! - [`messages`] → [`routing`] (with [`rules`] and [`llm`]) → [`review`] →
//!   [`outbox`]: a buyer message's way to a reply typed by the desktop agent, its
//!   states in [`states`]; [`stats`]: the daily figures; [`jobs`]: the module's jobs.

pub mod embedder;
pub mod embedding;
pub mod health;
pub mod imports;
pub mod index;
pub mod jobs;
pub mod kb;
pub mod llm;
pub mod messages;
pub mod outbox;
pub mod qdrant;
pub mod review;
pub mod routing;
pub mod rules;
pub mod search;
pub mod settings;
pub mod shops;
pub mod states;
pub mod stats;
pub mod vectors;

use std::sync::Arc;

use shopops_kernel::Kernel;

use crate::config::CsConfig;
use crate::metrics::CsMetrics;
use embedder::Embedder;
use index::Indexes;
use llm::Llm;
use search::Searcher;

/// What the module's handlers and jobs share.
pub struct Services {
    pub config: CsConfig,
    pub indexes: Arc<Indexes>,
    /// None: lexical retrieval only.
    pub embedder: Option<Embedder>,
    pub metrics: Arc<CsMetrics>,
    pub llm: Arc<Llm>,
}

impl Services {
    pub fn searcher<'a>(&'a self, kernel: &'a Kernel) -> Searcher<'a> {
        Searcher {
            kernel,
            indexes: &self.indexes,
            embedder: self.embedder.as_ref(),
            metrics: &self.metrics,
        }
    }
}
