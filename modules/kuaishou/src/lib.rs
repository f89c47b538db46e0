//! Kuaishou shop open-platform bridge (routes under `/api/v1/kuaishou`, settings in
//! `[kuaishou]` / `KUAISHOU_*`, tools under `shopops kuaishou`). What it does:
//!
//! - requests signed byte-for-byte like the official SDK, answers classified
//!   ([`client`]); every method with verb, version and parameters ([`catalogue`]);
//!   typed requests and answers of the core methods ([`typed`]); the dry run
//!   ([`dry_run`]);
//! - signed calls and OAuth through the kernel's outside-call toolkit ([`platform`]);
//! - authorised shops with encrypted tokens, refreshed once per shop across replicas;
//!   typed calls and paged methods as streams for a shop; several shops' orders at once;
//!   order sync; message push verified, stored once per holding shop and dispatched to
//!   typed handlers ([`service`]);
//! - what operators see: readiness ([`health`]), token alerts ([`alerts`]), Prometheus
//!   series ([`metrics`]).
//!
//! Layout: this file is the face the binaries see ([`KuaishouModule`]);
//! [`permissions`], [`error`] (the catalogue codes), [`config`] declare; [`api`] holds
//! the HTTP handlers, [`service`] the behaviour, [`store`] + [`entities`] the queries
//! and tables, [`cli`] the subcommands. The protocol (no database, no kernel state)
//! is [`client`], [`catalogue`] (with `data/methods.json`), [`typed`] and [`dry_run`].
//! See `docs/kuaishou.md`.

pub mod alerts;
pub mod api;
pub mod catalogue;
pub mod cli;
pub mod client;
pub mod config;
pub mod dry_run;
pub mod entities;
pub mod error;
pub mod health;
pub mod metrics;
pub mod permissions;
pub mod platform;
pub mod service;
pub mod store;
pub mod typed;

use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;
use clap::CommandFactory;
use shopops_kernel::cli::CliContext;
use shopops_kernel::error::Catalogue;
use shopops_kernel::module::Routes;
use shopops_kernel::{Kernel, Module, Permission, Started};
use utoipa::OpenApi;

use crate::config::KuaishouConfig;
use crate::platform::Platform;

/// The Kuaishou module, as the binaries see it.
pub struct KuaishouModule;

#[async_trait::async_trait]
impl Module for KuaishouModule {
    fn name(&self) -> &'static str {
        config::SECTION
    }

    fn about(&self) -> &'static str {
        "Kuaishou shops: authorisation, tokens, platform calls, order sync, message push"
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        api::ApiDoc::openapi()
    }

    fn permissions(&self) -> &'static [Permission] {
        permissions::ALL
    }

    fn errors(&self) -> Catalogue {
        Catalogue {
            owner: "kuaishou",
            codes: error::Code::ALL,
        }
    }

    fn config_env_prefix(&self) -> Option<&'static str> {
        Some(config::ENV_PREFIX)
    }

    fn check_config(&self, config: &shopops_kernel::config::Config) -> anyhow::Result<()> {
        config::KuaishouConfig::load(config)?;
        Ok(())
    }

    /// The platform client on the kernel's outside targets; its readiness check (when
    /// the app is configured) and token alerts; the routes with the platform as app
    /// data; the order-sync job and the event-dispatch sweep. Without app credentials
    /// the module still starts: its shop routes answer 503 `KUAISHOU_NOT_CONFIGURED`.
    async fn start(&self, kernel: &Kernel) -> anyhow::Result<Started> {
        let config = KuaishouConfig::load(&kernel.config)?;
        if !config.is_configured() {
            tracing::info!("Kuaishou app not configured (KUAISHOU_APP_KEY/APP_SECRET/SIGN_SECRET): its shop routes answer 503");
        }
        let platform = Arc::new(Platform::new(kernel, config)?);
        if platform.config.is_configured() {
            kernel
                .health
                .register(Arc::new(health::Connectivity::new(platform.clone())));
        }
        kernel
            .alerting
            .add_source(Arc::new(alerts::ShopTokenAlerts::new(platform.clone())));
        let data = web::Data::new(platform.clone());
        let routes: Routes = Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(data.clone());
            api::routes(cfg);
        });
        Ok(Started {
            routes,
            jobs: vec![
                service::sync::job(platform.clone()),
                service::events::sweep_job(platform),
            ],
        })
    }

    fn cli(&self) -> Option<clap::Command> {
        Some(
            <cli::KuaishouCli as CommandFactory>::command()
                .name(self.name())
                .about("Kuaishou open-platform tools"),
        )
    }

    async fn run_cli(
        &self,
        matches: &clap::ArgMatches,
        ctx: &CliContext,
    ) -> anyhow::Result<ExitCode> {
        cli::run(matches, ctx).await
    }
}
