//! `shopops serve`: migrate, build the kernel, bootstrap, schedule jobs, serve HTTP.

use std::process::ExitCode;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::ExposeSecret;
use shopops_kernel::config::Config;
use shopops_kernel::entities::user;
use shopops_kernel::http::context::{request_context, EnvelopeSettings};
use shopops_kernel::http::extract;
use shopops_kernel::{db, identity, jobs, Kernel};
use shopops_migrations::{Migrator, MigratorTrait};
use utoipa::OpenApi;
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

    tokio::spawn(jobs::rbac_reload_loop(kernel.clone()));
    tokio::spawn(jobs::idempotency_purge_loop(kernel.clone()));

    let config = kernel.config.clone();
    let envelope = EnvelopeSettings {
        error_docs_url: config.error_docs_url.clone(),
    };
    let openapi = shopops_kernel::ApiDoc::openapi();
    let data = web::Data::new(kernel);
    let max_body = config.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::Data::new(envelope.clone()))
            .app_data(extract::json_config(max_body))
            .app_data(extract::query_config())
            .app_data(extract::path_config())
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(request_context))
            .configure(shopops_kernel::probe_routes)
            .route("/docs/errors", web::get().to(errors_doc))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
            .service(web::scope("/api/v1").configure(shopops_kernel::routes))
    });
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server.bind(config.bind)?;
    for addr in server.addrs() {
        tracing::info!(%addr, "listening");
    }
    server.run().await?;
    tracing::info!("server stopped");
    Ok(ExitCode::SUCCESS)
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
