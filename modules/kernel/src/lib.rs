//! The ShopOps kernel: what every feature module stands on.
//!
//! - [`config`] typed layered configuration; [`db`] both database backends;
//! - [`error`] the error envelope; [`http`] request ids, envelopes, pagination;
//! - [`auth`], [`rbac`], [`identity`] identity and access (tenancy = the token's tenant);
//! - [`audit`] the hash-chained audit log; [`idempotency`] retry-safe writes;
//! - [`cache`] in-process or Redis; [`lease`] leases and locks across processes;
//!   [`captcha`] the captcha-solving port; [`health`] probes; [`telemetry`] logging.
//!
//! A module registers its routes under `/api/v1` next to the kernel's and receives the
//! [`Kernel`] context as `web::Data<Kernel>`.

pub mod alerting;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod canonical;
pub mod captcha;
pub mod cli;
pub mod config;
pub mod context;
pub mod crypto;
pub mod db;
pub mod encoding;
pub mod entities;
pub mod error;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod jobs;
pub mod lease;
pub mod module;
pub mod outside;
pub mod permissions;
pub mod rbac;
pub mod telemetry;
pub mod validate;

pub use context::Kernel;
pub use error::{AppError, AppResult};
pub use module::{Job, Module, Permission, RateBucket, Role, Started};

use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The kernel's API routes, to be mounted under `/api/v1`. One resource per path, so
/// a method the path does not serve is 405, not 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use identity::{api_tokens, tenants, users};
    use web::{delete, get, patch, post, put, resource};
    cfg.service(resource("/auth/login").route(post().to(auth::api::login)))
        .service(resource("/auth/refresh").route(post().to(auth::api::refresh)))
        .service(resource("/auth/logout").route(post().to(auth::api::logout)))
        .service(resource("/me").route(get().to(auth::api::me)))
        .service(
            resource("/tenants")
                .route(get().to(tenants::list_tenants))
                .route(post().to(tenants::create_tenant)),
        )
        .service(
            resource("/users")
                .route(get().to(users::list_users))
                .route(post().to(users::create_user)),
        )
        .service(
            resource("/users/{id}")
                .route(get().to(users::get_user))
                .route(patch().to(users::update_user))
                .route(delete().to(users::delete_user)),
        )
        .service(resource("/users/{id}/roles").route(put().to(users::assign_roles)))
        .service(
            resource("/api-tokens")
                .route(get().to(api_tokens::list_api_tokens))
                .route(post().to(api_tokens::create_api_token)),
        )
        .service(resource("/api-tokens/{id}").route(delete().to(api_tokens::revoke_api_token)))
        .service(resource("/audit-logs").route(get().to(audit::api::list_audit_logs)))
        .service(
            resource("/ops/outside-targets").route(get().to(outside::api::list_outside_targets)),
        )
        .service(resource("/alerts").route(get().to(alerting::api::list_alerts)))
        .service(resource("/alerts/rules").route(get().to(alerting::api::list_rules)))
        .service(
            resource("/alerts/rules/{rule}/silence")
                .route(post().to(alerting::api::silence_rule))
                .route(delete().to(alerting::api::unsilence_rule)),
        )
        .service(
            resource("/alerts/channels/{name}/test").route(post().to(alerting::api::test_channel)),
        );
}

/// Probe routes, mounted at the root.
pub fn probe_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)));
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or sko_ API token")
                    .build(),
            ),
        );
    }
}

/// The `/api/v1` part of the spec (paths here are relative to `/api/v1`).
#[derive(OpenApi)]
#[openapi(paths(
    auth::api::login,
    auth::api::refresh,
    auth::api::logout,
    auth::api::me,
    identity::tenants::create_tenant,
    identity::tenants::list_tenants,
    identity::users::create_user,
    identity::users::list_users,
    identity::users::get_user,
    identity::users::update_user,
    identity::users::delete_user,
    identity::users::assign_roles,
    identity::api_tokens::create_api_token,
    identity::api_tokens::list_api_tokens,
    identity::api_tokens::revoke_api_token,
    audit::api::list_audit_logs,
    outside::api::list_outside_targets,
    alerting::api::list_alerts,
    alerting::api::list_rules,
    alerting::api::silence_rule,
    alerting::api::unsilence_rule,
    alerting::api::test_channel,
))]
struct V1Api;

/// The kernel's OpenAPI document: probes at the root, the API under `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    paths(health::healthz, health::readyz),
    nest((path = "/api/v1", api = V1Api)),
    components(schemas(error::ErrorEnvelope, error::ErrorInfo)),
    modifiers(&BearerAuth),
    tags(
        (name = "probes", description = "Liveness and readiness"),
        (name = "auth", description = "Sign-in, tokens, current user"),
        (name = "tenants", description = "Tenants (superadmin)"),
        (name = "users", description = "Users and roles of the caller's tenant"),
        (name = "api-tokens", description = "Scoped tokens for machine callers"),
        (name = "audit", description = "Hash-chained audit log"),
        (name = "ops", description = "Operations views"),
        (name = "alerts", description = "Alert history, rules, silences, channel tests"),
    )
)]
pub struct ApiDoc;
