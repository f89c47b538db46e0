//! Security headers and CORS from configuration.

use std::collections::HashSet;
use std::sync::Mutex;

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, Error, HttpResponse};

use crate::config::Config;
use crate::context::Kernel;

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

/// A CORS preflight from an origin not in `cors_allowed_origins` is answered as a
/// browser expects a refusal: 204 with no `Access-Control-Allow-*` headers (the
/// browser then blocks the real request), not an error. The first refusal of each
/// origin is logged with the setting that would allow it. Runs outside [`cors`],
/// which would answer 400.
pub async fn refuse_foreign_preflight(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let kernel = req.app_data::<web::Data<Kernel>>().cloned();
    if let (true, Some(origin), Some(kernel)) = (preflight, origin, kernel) {
        if !kernel.config.cors_origins().contains(&origin) {
            log_refused_origin(&origin);
            let res = HttpResponse::NoContent()
                .insert_header((header::VARY, "Origin"))
                .finish();
            return Ok(req.into_response(res));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Logs a refused origin once per process (at most 1 000 distinct origins remembered,
/// so a flood of made-up origins cannot grow memory).
fn log_refused_origin(origin: &str) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.len() >= 1000 || !seen.insert(origin.to_string()) {
        return;
    }
    tracing::warn!(
        origin = %origin,
        "CORS preflight from an origin that is not allowed; add it to SHOPOPS_CORS_ALLOWED_ORIGINS to allow it"
    );
}

/// The API docs page (Swagger UI): its own scripts and styles (inline bootstrap
/// included), the spec from here, nothing from elsewhere.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Every other answer (JSON, the error catalogue's HTML): no active content at all.
const STRICT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// `Content-Security-Policy` on every answer: the docs page's policy under `/docs/`
/// (except the static error catalogue), the strict one elsewhere.
pub async fn content_security_policy(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let policy = if req.path().starts_with("/docs/") && req.path() != "/docs/errors" {
        DOCS_CSP
    } else {
        STRICT_CSP
    };
    let mut res = next.call(req).await?.map_into_boxed_body();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(policy),
    );
    Ok(res)
}
