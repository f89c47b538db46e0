//! The one list of feature modules this binary composes. Everything else in the server
//! (routes, the OpenAPI document, jobs, the command line, the error catalogue) is made
//! by iterating it; adding a module is one entry here (docs/ARCHITECTURE.md).

use shopops_kernel::config::Config;
use shopops_kernel::module::{Declarations, Routes};
use shopops_kernel::{db, jobs, Job, Kernel, Module};
use shopops_migrations::{Migrator, MigratorTrait};

pub const MODULES: &[&dyn Module] = &[
    &shopops_points::PointsModule,
    &shopops_kuaishou::KuaishouModule,
    &shopops_integrations::IntegrationsModule,
    &shopops_customer_service::CustomerServiceModule,
    &shopops_gateway::GatewayModule,
];

/// What the kernel and every module declare.
pub fn declarations() -> Declarations {
    Declarations::of(MODULES)
}

/// The modules' config sections (`[kuaishou]` …), which the kernel's loader leaves to them.
pub fn config_sections() -> Vec<&'static str> {
    declarations()
        .config_sections
        .into_iter()
        .map(|(section, _)| section)
        .collect()
}

/// What both binaries do first: check every module's settings, connect, migrate when
/// configured, build the kernel, start every module. The kernel, each module's routes
/// under its prefix, and every job (the kernel's and the modules').
pub async fn start(config: Config) -> anyhow::Result<(Kernel, Vec<(String, Routes)>, Vec<Job>)> {
    crate::cli::check_modules_config(&config)?;
    let conn = db::connect(&config).await?;
    if config.migrate_on_start {
        Migrator::up(&conn, None).await?;
    }
    let kernel = Kernel::build(config, conn, &declarations()).await?;
    let mut all = jobs::kernel_jobs(&kernel.config);
    let mut scopes = Vec::new();
    for module in MODULES {
        let started = module
            .start(&kernel)
            .await
            .map_err(|e| anyhow::anyhow!("module {}: {e:#}", module.name()))?;
        scopes.push((format!("/{}", module.name()), started.routes));
        all.extend(started.jobs);
    }
    Ok((kernel, scopes, all))
}
