//! Customer service: the knowledge base and its retrieval engine (Chinese, offline,
//! with a confidence that routes buyer messages), buyer messages, LLM replies and the
//! human review queue (docs/customer-service.md). Routes under `/api/v1/cs`. The
//! binaries see only [`CustomerServiceModule`].
//!
//! - [`api`]: the HTTP handlers; [`cli`]: `shopops cs …`;
//! - [`service`]: the behaviour (entries, imports, per-tenant indexes, search,
//!   embeddings); [`retrieval`]: the pure ranking engine and the built-in encoder;
//!   [`eval`]: the offline evaluation;
//! - [`store`] + [`entities`]: the queries and the tables;
//! - [`config`], [`permissions`], [`error`], [`metrics`]: what the module declares.

pub mod alerts;
pub mod api;
pub mod cli;
pub mod config;
pub mod entities;
pub mod error;
pub mod eval;
pub mod metrics;
pub mod permissions;
pub mod retrieval;
pub mod service;
pub mod store;

use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;
use shopops_kernel::cli::CliContext;
use shopops_kernel::error::Catalogue;
use shopops_kernel::{Kernel, Module, Permission, Started};
use utoipa::OpenApi;

use crate::config::CsConfig;
use crate::metrics::CsMetrics;
use crate::service::embedder::Embedder;
use crate::service::index::DenseSide;
use crate::service::index::Indexes;
use crate::service::llm::{Llm, LlmAlerts};
use crate::service::qdrant::QdrantStore;
use crate::service::vectors::{EmbeddedStore, VectorStore};
use crate::service::Services;

/// The customer-service module.
pub struct CustomerServiceModule;

#[async_trait::async_trait]
impl Module for CustomerServiceModule {
    fn name(&self) -> &'static str {
        "cs"
    }

    fn about(&self) -> &'static str {
        "Customer service: knowledge base, Chinese retrieval, buyer messages, LLM replies, review"
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        api::ApiDoc::openapi()
    }

    fn permissions(&self) -> &'static [Permission] {
        permissions::ALL
    }

    fn errors(&self) -> Catalogue {
        Catalogue {
            owner: "cs",
            codes: error::Code::ALL,
        }
    }

    fn config_env_prefix(&self) -> Option<&'static str> {
        Some(config::ENV_PREFIX)
    }

    fn check_config(&self, config: &shopops_kernel::config::Config) -> anyhow::Result<()> {
        CsConfig::load(config)?;
        Ok(())
    }

    /// The embedder the configuration asks for (the built-in encoder when its weights
    /// are present), the vector store, the per-tenant indexes, the LLM providers, the
    /// desktop-agent alerts, and the jobs: imports, embeddings, tombstone purge,
    /// rerouting messages a stopped server left, daily statistics.
    async fn start(&self, kernel: &Kernel) -> anyhow::Result<Started> {
        let config = CsConfig::load(&kernel.config)?;
        let embedder = Embedder::from_config(&kernel.outside, &config)?;
        match &embedder {
            Some(e) => tracing::info!(encoder = %e.name(), "knowledge base: hybrid retrieval"),
            None => tracing::info!("knowledge base: lexical retrieval (no sentence encoder)"),
        }
        let dense = match &embedder {
            None => None,
            Some(e) => {
                let store: Arc<dyn VectorStore> = match &config.qdrant_url {
                    Some(url) => Arc::new(QdrantStore::new(&config, url, e.dim())?),
                    None => Arc::new(EmbeddedStore::new(e.dim())),
                };
                Some(DenseSide {
                    store,
                    encoder: e.name(),
                })
            }
        };
        kernel
            .health
            .register(Arc::new(service::health::RetrievalHealth::new(
                embedder.as_ref().map(|e| e.describe(&config)),
                dense.as_ref().map(|d| d.store.clone()),
            )));
        let indexes = Arc::new(Indexes::new(dense));
        let metrics = Arc::new(CsMetrics::new(kernel.metrics.registry()));
        let llm = Arc::new(Llm::from_config(&kernel.outside, &config.llm)?);
        tracing::info!(providers = ?llm.describe(), "customer service: LLM providers");
        kernel
            .alerting
            .add_source(Arc::new(alerts::AgentAlerts::new(
                config.agent_offline_secs,
            )));
        kernel
            .alerting
            .add_source(Arc::new(LlmAlerts::new(llm.clone())));
        let state = web::Data::new(Services {
            config,
            indexes,
            embedder: embedder.clone(),
            metrics: metrics.clone(),
            llm,
        });
        let services = state.clone().into_inner();
        let mut jobs = vec![
            service::jobs::import_job(metrics.clone()),
            service::jobs::purge_job(),
            service::jobs::reroute_job(services.clone()),
            service::jobs::stats_job(services),
        ];
        if let Some(e) = &embedder {
            jobs.push(service::embedding::job(e.clone(), metrics));
        }
        Ok(Started {
            routes: Arc::new(move |cfg| api::routes(cfg, &state)),
            jobs,
        })
    }

    fn cli(&self) -> Option<clap::Command> {
        Some(cli::command(self.about()))
    }

    async fn run_cli(
        &self,
        matches: &clap::ArgMatches,
        ctx: &CliContext,
    ) -> anyhow::Result<ExitCode> {
        cli::run(matches, ctx).await
    }
}
