//! Integrations: payment (WeChat Pay, Alipay), SMS (Tencent Cloud, Aliyun), storage
//! (Tencent COS, S3-compatible, local files) and captcha (Chaojiying) providers behind
//! one adapter interface per capability (routes under `/api/v1/integrations`,
//! docs/integrations.md).
//!
//! - [`client`]: each provider's protocol as pure functions, proven by the vectors;
//! - [`providers`]: the adapters (one trait per capability) that send them;
//! - [`manager`]: priorities, circuit breakers, failover, health, live reload;
//! - [`config`]: the module's settings (`[integrations]`) and integrations.yaml;
//! - [`service`]: payments, refunds, notifications, the SMS outbox and delivery
//!   reports, storage, captcha, provider overrides; [`store`] + [`entities`]: the
//!   queries and tables; [`api`]: the handlers;
//! - [`permissions`], [`error`]: what the module declares;
//! - [`alerts`], [`metrics`]; [`dry_run`] + [`cli`]: `shopops integrations sign
//!   --vector FILE`.

pub mod alerts;
pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod dry_run;
pub mod entities;
pub mod error;
pub mod manager;
pub mod metrics;
pub mod permissions;
pub mod providers;
pub mod service;
pub mod store;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use shopops_kernel::cli::CliContext;
use shopops_kernel::error::Catalogue;
use shopops_kernel::module::Routes;
use shopops_kernel::{Job, Kernel, Module, Permission, Started};
use utoipa::OpenApi;

/// The integrations module, as the binaries see it.
pub struct IntegrationsModule;

#[async_trait::async_trait]
impl Module for IntegrationsModule {
    fn name(&self) -> &'static str {
        "integrations"
    }

    fn about(&self) -> &'static str {
        "Payment, SMS, storage and captcha providers with failover"
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        api::ApiDoc::openapi()
    }

    fn permissions(&self) -> &'static [Permission] {
        permissions::ALL
    }

    fn errors(&self) -> Catalogue {
        Catalogue {
            owner: "integrations",
            codes: error::Code::ALL,
        }
    }

    fn config_env_prefix(&self) -> Option<&'static str> {
        Some("INTEGRATIONS_")
    }

    fn check_config(&self, config: &shopops_kernel::config::Config) -> anyhow::Result<()> {
        config::IntegrationsSettings::load(config).map_err(anyhow::Error::msg)?;
        Ok(())
    }

    /// The settings, the URL-signing key (made once, kept in the database, so every
    /// replica accepts the local store's URLs), the manager over the configured
    /// providers, their alert rules; the routes and the jobs: the SMS outbox (every
    /// 5 s), delivery reports, the captcha purge (hourly), the configuration reload.
    async fn start(&self, kernel: &Kernel) -> anyhow::Result<Started> {
        let settings =
            config::IntegrationsSettings::load(&kernel.config).map_err(anyhow::Error::msg)?;
        let key = shopops_kernel::db::get_or_init_setting(
            &kernel.db,
            "integrations_url_key",
            &shopops_kernel::auth::tokens::random_token(),
        )
        .await?;
        let manager = manager::Manager::start(kernel, key.as_bytes().to_vec(), settings)
            .await
            .map_err(anyhow::Error::msg)?;
        // The gateway reads platform captchas through the kernel's port.
        kernel
            .captcha
            .register(Arc::new(service::captcha::ProviderSolver::new(
                kernel.clone(),
                manager.clone(),
            )));
        kernel
            .alerting
            .add_source(Arc::new(alerts::ProviderAlerts::new(manager.clone())));
        let state = Arc::new(api::State {
            manager: manager.clone(),
            url_key: key.into_bytes(),
        });
        let routes: Routes = Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(web::Data::from(state.clone()));
            api::routes(cfg);
        });
        let settings = &manager.settings;
        let (outbox, reports, reload) = (manager.clone(), manager.clone(), manager.clone());
        let jobs = vec![
            Job::new(
                "integrations_sms_outbox",
                Duration::from_secs(5),
                move |k: Kernel| {
                    let m = outbox.clone();
                    async move {
                        service::sms::deliver_due(&k, &m)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                },
            )
            .one_leader(),
            // At most 30 s between rounds, so a short report gap is honoured.
            Job::new(
                "integrations_sms_reports",
                Duration::from_secs(settings.sms_report_secs.min(30)),
                move |k: Kernel| {
                    let m = reports.clone();
                    async move {
                        service::sms_reports::check_due(&k, &m)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                    }
                },
            )
            .one_leader(),
            Job::new(
                "integrations_captcha_purge",
                Duration::from_secs(3600),
                |k: Kernel| async move {
                    service::captcha::purge_expired(&k)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                },
            )
            .one_leader(),
            Job::new(
                "integrations_config_reload",
                settings.reload_every(),
                move |k: Kernel| {
                    let m = reload.clone();
                    async move { m.reload_if_changed(&k).await.map(drop) }
                },
            ),
        ];
        Ok(Started { routes, jobs })
    }

    fn cli(&self) -> Option<clap::Command> {
        Some(
            <cli::IntegrationsCli as clap::CommandFactory>::command()
                .name("integrations")
                .about("Payment, SMS, storage and captcha provider tools"),
        )
    }

    /// Offline commands only: neither the database nor the kernel is opened.
    async fn run_cli(
        &self,
        matches: &clap::ArgMatches,
        _ctx: &CliContext,
    ) -> anyhow::Result<ExitCode> {
        let parsed = <cli::IntegrationsCli as clap::FromArgMatches>::from_arg_matches(matches)?;
        cli::run(parsed)
    }
}
