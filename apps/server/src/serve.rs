//! `shopops serve`: migrate, build the kernel, bootstrap, schedule jobs, serve HTTP,
//! and shut down gracefully on SIGTERM/SIGINT.

use std::process::ExitCode;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::ExposeSecret;
use shopops_kernel::config::Config;
use shopops_kernel::entities::user;
use shopops_kernel::http::context::{request_context, HttpSettings};
use shopops_kernel::http::{extract, rate_limit, security};
use shopops_kernel::{db, identity, jobs, Kernel};
use shopops_migrations::{Migrator, MigratorTrait};
use utoipa_swagger_ui::SwaggerUi;

/// The error catalogue, served at `/docs/errors` (where `documentation_url` points).
const ERRORS_DOC: &str = include_str!("../../../docs/errors.md");

pub async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let conn = db::connect(&config).await?;
    if config.migrate_on_start {
        Migrator::up(&conn, None).await?;
    }
    let kernel = Kernel::build(config, conn).await?;
    bootstrap_admin(&kernel).await?;
    let kuaishou_config =
        shopops_kuaishou::config::KuaishouConfig::load().map_err(anyhow::Error::msg)?;
    if !kuaishou_config.is_configured() {
        tracing::info!("Kuaishou app not configured (KUAISHOU_APP_KEY/APP_SECRET/SIGN_SECRET): its shop routes answer 503");
    }
    let kuaishou = web::Data::new(std::sync::Arc::new(
        shopops_kuaishou::platform::Platform::new(&kernel, kuaishou_config)?,
    ));

    let kuaishou_platform = kuaishou.get_ref().clone();
    if kuaishou_platform.config.is_configured() {
        kernel.health.register(std::sync::Arc::new(
            shopops_kuaishou::health::Connectivity::new(kuaishou_platform.clone()),
        ));
    }
    kernel.alerting.add_source(std::sync::Arc::new(
        shopops_kuaishou::alerts::ShopTokenAlerts::new(kuaishou_platform.clone()),
    ));
    let integrations = shopops_integrations::start(&kernel)
        .await
        .map_err(|e| anyhow::anyhow!("integrations: {e}"))?;
    let jobs = vec![
        tokio::spawn(jobs::rbac_reload(kernel.clone())),
        tokio::spawn(jobs::idempotency_purge(kernel.clone())),
        tokio::spawn(jobs::alert_evaluation(kernel.clone())),
        tokio::spawn(shopops_points::jobs::expiry(kernel.clone())),
        tokio::spawn(shopops_kuaishou::jobs::order_sync(
            kernel.clone(),
            kuaishou_platform.clone(),
        )),
        tokio::spawn(shopops_kuaishou::jobs::event_dispatch(
            kernel.clone(),
            kuaishou_platform,
        )),
        tokio::spawn(shopops_integrations::jobs::sms_outbox(
            kernel.clone(),
            integrations.clone(),
        )),
        tokio::spawn(shopops_integrations::jobs::sms_reports(
            kernel.clone(),
            integrations.clone(),
        )),
        tokio::spawn(shopops_integrations::jobs::captcha_purge(kernel.clone())),
        tokio::spawn(shopops_integrations::jobs::config_reload(
            kernel.clone(),
            integrations.clone(),
        )),
    ];

    let config = kernel.config.clone();
    let settings = HttpSettings {
        error_docs_url: config.error_docs_url.clone(),
        request_timeout: Duration::from_secs(config.request_timeout_secs),
        metrics: Some(kernel.metrics.clone()),
    };
    let openapi = crate::openapi::document();
    let data = web::Data::new(kernel.clone());
    let max_body = config.max_body_bytes;
    let integrations = web::Data::from(integrations);
    let app_config = config.clone();
    let mut server = HttpServer::new(move || {
        // Outermost first: request context (ids, envelopes, metrics) wraps everything,
        // so even a CORS or rate-limit refusal is an envelope with a request id.
        App::new()
            .app_data(data.clone())
            .app_data(kuaishou.clone())
            .app_data(integrations.clone())
            .app_data(web::Data::new(settings.clone()))
            .app_data(extract::json_config(max_body))
            .app_data(extract::query_config())
            .app_data(extract::path_config())
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(rate_limit::rate_limit))
            .wrap(security::cors(&app_config))
            .wrap(security::headers(&app_config))
            .wrap(from_fn(request_context))
            .configure(shopops_kernel::probe_routes)
            .route("/metrics", web::get().to(metrics))
            .route("/docs/errors", web::get().to(errors_doc))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
            .service(
                web::scope("/api/v1")
                    .service(web::scope("/points").configure(shopops_points::routes))
                    .service(web::scope("/kuaishou").configure(shopops_kuaishou::routes))
                    .service(web::scope("/integrations").configure(shopops_integrations::routes))
                    .configure(shopops_kernel::routes),
            )
    })
    .disable_signals()
    .client_request_timeout(Duration::from_secs(config.header_read_timeout_secs))
    .shutdown_timeout(config.shutdown_grace_secs);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server.bind(config.bind)?;
    for addr in server.addrs() {
        tracing::info!(%addr, "listening");
    }
    let server = server.run();
    tokio::spawn(drain_on_signal(kernel.clone(), server.handle()));
    server.await?;

    kernel.lifecycle.stop_jobs();
    for job in jobs {
        let _ = job.await;
    }
    tracing::info!("server stopped");
    Ok(ExitCode::SUCCESS)
}

/// On SIGTERM or SIGINT: readiness turns 503 at once; after `shutdown_delay_secs`
/// (time for load balancers to notice) the listener closes and in-flight requests get
/// `shutdown_grace_secs` to finish.
async fn drain_on_signal(kernel: Kernel, server: actix_web::dev::ServerHandle) {
    wait_for_signal().await;
    kernel.lifecycle.begin_drain();
    let delay = Duration::from_secs(kernel.config.shutdown_delay_secs);
    tracing::info!(delay_secs = delay.as_secs(), "shutdown signal: draining");
    tokio::time::sleep(delay).await;
    kernel.lifecycle.stop_jobs();
    server.stop(true).await;
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = ctrl_c => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn metrics(kernel: web::Data<Kernel>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(
            kernel
                .metrics
                .render(&kernel.db, kernel.config.database_max_connections),
        )
}

async fn errors_doc() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .body(ERRORS_DOC)
}

/// `SHOPOPS_BOOTSTRAP_ADMIN=user:password` creates the superadmin when no user exists.
async fn bootstrap_admin(kernel: &Kernel) -> anyhow::Result<()> {
    let Some(spec) = kernel.config.bootstrap_admin.as_ref() else {
        return Ok(());
    };
    let Some((username, password)) = spec.expose_secret().split_once(':') else {
        return Ok(());
    };
    if user::Entity::find().count(&kernel.db).await? > 0 {
        return Ok(());
    }
    match identity::users::create_superadmin(kernel, username, password).await {
        Ok(u) => tracing::info!(username = %u.username, "bootstrap superadmin created"),
        // Another replica created it first.
        Err(e) if e.code == "USERNAME_TAKEN" => {}
        Err(e) => anyhow::bail!("bootstrap admin: {}: {}", e.code, e.message),
    }
    Ok(())
}
