//! Security headers and CORS from configuration.

use actix_cors::Cors;
use actix_web::middleware::DefaultHeaders;

use crate::config::Config;

/// `nosniff`, frame `DENY`, `no-referrer`, and HSTS when `hsts_max_age_secs` > 0 (only
/// meaningful when clients reach us over HTTPS, e.g. through an ingress).
pub fn headers(config: &Config) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if config.hsts_max_age_secs > 0 {
        headers = headers.add((
            "Strict-Transport-Security",
            format!("max-age={}; includeSubDomains", config.hsts_max_age_secs),
        ));
    }
    headers
}

/// CORS for the configured origins; none configured = cross-origin requests get no
/// CORS headers (browsers refuse them).
pub fn cors(config: &Config) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            "x-request-id",
        ])
        .expose_headers([
            "x-request-id",
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ])
        .max_age(3600);
    for origin in config.cors_origins() {
        cors = cors.allowed_origin(&origin);
    }
    cors
}
