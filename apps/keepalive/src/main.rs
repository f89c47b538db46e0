//! `shopops-keepalive`: the worker that runs every module's scheduled jobs — the
//! gateway's session keepalive, points expiry, SMS delivery reports, Kuaishou token
//! refresh and order sync, customer-service statistics … — so servers can run with
//! `SHOPOPS_JOBS=off` (docs/operations.md "Keepalive worker"). It composes the same
//! module list as the server, serves no API, only `/healthz`, `/readyz` and
//! `/metrics` on its own port. Cluster-wide jobs have one leader at a time across
//! every worker and server (a Redis lease, renewed; in-process without Redis): run
//! two replicas and the second takes a job over within `job_lease_secs` of the
//! first's death. On SIGTERM the worker finishes the runs in progress and hands its
//! leases back.

use std::net::SocketAddr;
use std::process::ExitCode;

use actix_web::{web, App};
use clap::Parser;
use shopops::modules::config_sections;
use shopops_kernel::config::Config;
use shopops_kernel::http::context::{request_context, HttpSettings};
use shopops_kernel::telemetry;

#[derive(Parser)]
#[command(
    name = "shopops-keepalive",
    version,
    about = "ShopOps keepalive worker: every module's scheduled jobs, one leader per job",
    after_help = "Settings as the server's (SHOPOPS_* variables, SHOPOPS_CONFIG, DATABASE_URL, REDIS_URL); SHOPOPS_JOBS is ignored: the worker always runs the jobs."
)]
struct Cli {
    /// Where `/healthz`, `/readyz` and `/metrics` listen.
    #[arg(long, env = "KEEPALIVE_BIND", default_value = "0.0.0.0:8081")]
    bind: SocketAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    shopops_kernel::outside::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        match run(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        }
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(&config_sections())?;
    let _telemetry = telemetry::init(&config);
    config.bind = cli.bind;
    config.jobs = "on".into();
    let (kernel, _routes, all) = shopops::modules::start(config).await?;
    tracing::info!(jobs = all.len(), "keepalive worker: jobs scheduled");
    let running: Vec<_> = all
        .into_iter()
        .map(|job| tokio::spawn(job.schedule(kernel.clone())))
        .collect();

    let settings = HttpSettings::of(&kernel);
    let data = web::Data::new(kernel.clone());
    let app_settings = settings.clone();
    let listening = shopops_kernel::http::server::serve(&kernel.config, settings, move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::Data::new(app_settings.clone()))
            .wrap(actix_web::middleware::from_fn(request_context))
            .configure(shopops_kernel::probe_routes)
            .route("/metrics", web::get().to(shopops::serve::metrics))
    })?;
    // With port 0 this line is how a caller (the e2e tests) learns the port.
    tracing::info!(addr = %listening.addr, "listening");
    let server = listening.server;
    let handle = server.handle();
    let stopping = kernel.clone();
    tokio::spawn(async move {
        shopops::serve::wait_for_signal().await;
        tracing::info!("shutdown signal: finishing the jobs in progress");
        stopping.lifecycle.begin_drain();
        stopping.lifecycle.stop_jobs();
        handle.stop(true).await;
    });
    server.await?;
    kernel.lifecycle.stop_jobs();
    for job in running {
        let _ = job.await;
    }
    tracing::info!("keepalive worker stopped");
    Ok(ExitCode::SUCCESS)
}
