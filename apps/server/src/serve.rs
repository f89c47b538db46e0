//! `shopops serve`: migrate, build the kernel, bootstrap, schedule jobs, serve HTTP,
//! and shut down gracefully on SIGTERM/SIGINT.

use std::process::ExitCode;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse};
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::ExposeSecret;
use shopops_kernel::config::Config;
use shopops_kernel::entities::user;
use shopops_kernel::http::context::{request_context, HttpSettings};
use shopops_kernel::http::{self, extract, rate_limit, security};
use shopops_kernel::{identity, Kernel};
use utoipa_swagger_ui::SwaggerUi;

pub async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let (kernel, scopes, mut jobs) = crate::modules::start(config).await?;
    bootstrap_admin(&kernel).await?;
    if !kernel.config.runs_cluster_jobs() {
        // SHOPOPS_JOBS=off: the keepalive worker (or another replica) leads them.
        jobs.retain(|job| !job.one_leader);
        tracing::info!("cluster-wide jobs off in this process");
    }
    let jobs: Vec<_> = jobs
        .into_iter()
        .map(|job| tokio::spawn(job.schedule(kernel.clone())))
        .collect();

    let config = kernel.config.clone();
    let settings = HttpSettings::of(&kernel);
    let openapi = crate::openapi::document();
    let data = web::Data::new(kernel.clone());
    let max_body = config.max_body_bytes;
    let app_config = config.clone();
    let http_settings = settings.clone();
    let listening = http::server::serve(&config, http_settings, move || {
        // Outermost first: request context (ids, envelopes, metrics) wraps everything,
        // so even a CORS or rate-limit refusal is an envelope with a request id.
        let mut api = web::scope("/api/v1");
        for (prefix, routes) in &scopes {
            let routes = routes.clone();
            api = api.service(web::scope(prefix).configure(move |cfg| routes(cfg)));
        }
        App::new()
            .app_data(data.clone())
            .app_data(web::Data::new(settings.clone()))
            .app_data(extract::json_config(max_body))
            .app_data(extract::query_config())
            .app_data(extract::path_config())
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(rate_limit::rate_limit))
            .wrap(security::cors(&app_config))
            .wrap(from_fn(security::refuse_foreign_preflight))
            .wrap(from_fn(security::content_security_policy))
            .wrap(security::headers(&app_config))
            .wrap(from_fn(request_context))
            .configure(shopops_kernel::probe_routes)
            .route("/metrics", web::get().to(metrics))
            .route(
                "/docs/errors",
                web::get().to(crate::docs_pages::errors_page),
            )
            .route("/docs", web::get().to(crate::docs_pages::docs_redirect))
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .url("/openapi.json", openapi.clone())
                    // No call to swagger.io's online validator: the page stays offline.
                    .config(utoipa_swagger_ui::Config::default().validator_url("none")),
            )
            .service(api.configure(shopops_kernel::routes))
    })?;
    // With port 0 this line is how a caller (the e2e tests) learns the port.
    tracing::info!(addr = %listening.addr, "listening");
    let server = listening.server;
    tokio::spawn(drain_on_signal(kernel.clone(), server.handle()));
    server.await?;

    kernel.lifecycle.stop_jobs();
    for job in jobs {
        let _ = job.await;
    }
    if kernel.config.runs_cluster_jobs() {
        // Requests that finished during the drain committed audit records after the
        // linker stopped: link them now instead of leaving them to the next leader.
        match shopops_kernel::audit::link_pending(&kernel.db).await {
            Ok(linked) => tracing::info!(linked, "audit records linked at shutdown"),
            Err(e) => tracing::warn!(error = %e, "audit records left for the next linker"),
        }
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

/// Resolves on SIGTERM or SIGINT.
pub async fn wait_for_signal() {
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

/// `GET /metrics`: the Prometheus text of the kernel's registry.
pub async fn metrics(kernel: web::Data<Kernel>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(
            kernel
                .metrics
                .render(&kernel.db, kernel.config.database_max_connections),
        )
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
        Err(e) if e.code == shopops_kernel::error::Code::UsernameTaken.def().code => {}
        Err(e) => anyhow::bail!("bootstrap admin: {e} {}", e.details),
    }
    Ok(())
}
