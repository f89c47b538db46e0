//! Platform gateway: logs in to cookie+session web platforms through image captchas,
//! shares one session per platform across every replica and the keepalive worker,
//! keeps it alive and refreshes it on expiry (docs/gateway.md). Routes under
//! `/api/v1/gateway`. The binaries see only [`GatewayModule`].
//!
//! - [`api`]: the HTTP handlers;
//! - [`service`]: the behaviour (settings, sessions, login, calls, solving, keepalive);
//!   [`solvers`]: the local captcha model;
//! - [`store`] + [`entities`]: the queries and the tables;
//! - [`config`], [`permissions`], [`error`], [`metrics`], [`alerts`]: what the module
//!   declares.

pub mod alerts;
pub mod api;
pub mod config;
pub mod entities;
pub mod error;
pub mod metrics;
pub mod permissions;
pub mod service;
pub mod solvers;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use shopops_kernel::error::Catalogue;
use shopops_kernel::{Job, Kernel, Module, Permission, Started};
use utoipa::OpenApi;

use crate::config::GatewayConfig;
use crate::metrics::GatewayMetrics;
use crate::service::solving::ManualSolver;
use crate::service::Gateway;

/// The platform-gateway module.
pub struct GatewayModule;

#[async_trait::async_trait]
impl Module for GatewayModule {
    fn name(&self) -> &'static str {
        "gateway"
    }

    fn about(&self) -> &'static str {
        "Platform gateway: captcha login to cookie+session platforms, shared sessions, keepalive"
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        api::ApiDoc::openapi()
    }

    fn permissions(&self) -> &'static [Permission] {
        permissions::ALL
    }

    fn errors(&self) -> Catalogue {
        Catalogue {
            owner: "gateway",
            codes: error::Code::ALL,
        }
    }

    fn config_env_prefix(&self) -> Option<&'static str> {
        Some(config::ENV_PREFIX)
    }

    fn check_config(&self, config: &shopops_kernel::config::Config) -> anyhow::Result<()> {
        GatewayConfig::load(config)?;
        Ok(())
    }

    /// Registers the manual captcha solver and, when `make models` fetched it, the
    /// local model; the keepalive job; the alerts.
    async fn start(&self, kernel: &Kernel) -> anyhow::Result<Started> {
        let config = GatewayConfig::load(&kernel.config)?;
        kernel.captcha.register(Arc::new(ManualSolver::new(
            kernel.db.clone(),
            Duration::from_secs(config.manual_captcha_timeout_secs),
        )));
        let model_dir = config.models_dir.join("ddddocr");
        let local = if model_dir.join("common.onnx").exists() {
            // Loading parses 54 MB and optimises the plan (0.3–0.6 s): off the runtime.
            let dir = model_dir.clone();
            let model =
                tokio::task::spawn_blocking(move || solvers::local_model::LocalModel::load(&dir))
                    .await??;
            kernel
                .captcha
                .register(Arc::new(solvers::local_model::LocalSolver::new(model)));
            tracing::info!(dir = %model_dir.display(), "gateway: local captcha model loaded");
            true
        } else {
            tracing::info!(dir = %model_dir.display(), "gateway: no local captcha model (make models)");
            false
        };
        kernel.health.register(Arc::new(solvers::SolversHealth::new(
            kernel.captcha.clone(),
            local,
        )));
        kernel.alerting.add_source(Arc::new(alerts::GatewayAlerts));
        let metrics = Arc::new(GatewayMetrics::new(kernel.metrics.registry()));
        let tick = Duration::from_secs(config.keepalive_tick_secs);
        let state = web::Data::new(Gateway::new(config, metrics)?);
        let gateway = state.clone().into_inner();
        let keepalive = Job::new("gateway_keepalive", tick, move |k: Kernel| {
            let gateway = gateway.clone();
            async move { service::keepalive::run(&k, &gateway).await }
        })
        .one_leader();
        Ok(Started {
            routes: Arc::new(move |cfg| api::routes(cfg, &state)),
            jobs: vec![keepalive],
        })
    }
}
