//! The outermost middleware: gives each request an id, renders every failure into the
//! error envelope (docs/errors.md), turns a panic into a 500 envelope instead of a dropped
//! connection, and writes one access-log line per request.

use std::future::{ready, Ready};
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::FutureExt;
use serde_json::json;
use tracing::Instrument;

use crate::error::{body_for_status, internal_with_id, new_error_id, Code, ErrorBody, Lang};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request id: the caller's `X-Request-Id` when it is sane, a new UUID otherwise.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who sent the request, for audit records.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequest for RequestContext {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        ready(Ok(RequestContext {
            request_id,
            ip,
            user_agent,
        }))
    }
}

/// Settings the middleware needs; registered as app data by the server.
#[derive(Clone)]
pub struct HttpSettings {
    pub error_docs_url: String,
    /// A handler running longer is cut off with 503 `REQUEST_TIMEOUT`.
    pub request_timeout: std::time::Duration,
    pub metrics: Option<std::sync::Arc<crate::telemetry::metrics::Metrics>>,
    /// Messages in this language when `Accept-Language` names no language we have.
    pub default_lang: Lang,
    /// The body limit actix applies to raw bodies (`web::Bytes`), named in the 413
    /// envelope it cannot build itself.
    pub max_body_bytes: usize,
}

impl HttpSettings {
    /// The settings the kernel's configuration gives, with its metrics.
    pub fn of(kernel: &crate::Kernel) -> Self {
        let config = &kernel.config;
        Self {
            error_docs_url: config.error_docs_url.clone(),
            request_timeout: std::time::Duration::from_secs(config.request_timeout_secs),
            metrics: Some(kernel.metrics.clone()),
            default_lang: config.default_lang(),
            max_body_bytes: config.max_body_bytes,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            error_docs_url: "/docs/errors".into(),
            request_timeout: std::time::Duration::from_secs(60),
            metrics: None,
            default_lang: Lang::default(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The language the caller reads error messages in: `Accept-Language`, else the
/// configured default. An extractor for handlers that embed errors in a success
/// answer (a batch's per-item results).
impl FromRequest for Lang {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let default = req
            .app_data::<actix_web::web::Data<HttpSettings>>()
            .map(|s| s.default_lang)
            .unwrap_or_default();
        let header = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        ready(Ok(Lang::negotiate(header, default)))
    }
}

fn accept_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(accept_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let settings = req
        .app_data::<actix_web::web::Data<HttpSettings>>()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default();
    let docs_url = settings.error_docs_url.as_str();
    let lang = Lang::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        settings.default_lang,
    );
    let render = Render {
        request_id: &request_id,
        docs_url,
        lang,
        max_body_bytes: settings.max_body_bytes,
    };
    let method = req.method().to_string();
    let path = req.path().to_string();

    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        method = %method,
        path = %path,
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        tenant = tracing::field::Empty,
    );
    adopt_trace_parent(&span, req.headers());
    let call = AssertUnwindSafe(next.call(req)).catch_unwind();
    let timed = tokio::time::timeout(settings.request_timeout, call)
        .instrument(span.clone())
        .await;
    let done = Done {
        span: &span,
        settings: &settings,
        method: &method,
        started,
    };
    let Ok(outcome) = timed else {
        let response = Code::RequestTimeout
            .err()
            .with_details(
                json!({ "timeout_secs": settings.request_timeout.as_secs(), "retry_after": 5 }),
            )
            .error_response();
        return Err(pre_render(done, response, &render, "unknown"));
    };

    // Errors that escaped the handler (or a panic) have no request left to build a
    // ServiceResponse with; they leave as a pre-rendered envelope instead.
    let mut res = match outcome {
        Ok(Ok(res)) => res.map_into_boxed_body(),
        Ok(Err(err)) => {
            let response = err.error_response();
            return Err(pre_render(done, response, &render, "unknown"));
        }
        Err(panic) => {
            let error_id = new_error_id();
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            span.in_scope(
                || tracing::error!(error_id = %error_id, panic = %what, "handler panicked"),
            );
            let response = internal_with_id(error_id).error_response();
            return Err(pre_render(done, response, &render, "unknown"));
        }
    };

    let status = res.status();
    let keep_body = res.response().extensions().get::<KeepBody>().is_some();
    if (status.is_client_error() || status.is_server_error()) && !keep_body {
        res = render_envelope(res, &render);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    // The route template, not the path: ids in paths would explode label cardinality.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    finish(done, status, &route);
    Ok(res)
}

/// Continues the caller's trace when it sent a W3C `traceparent` header.
fn adopt_trace_parent(span: &tracing::Span, headers: &actix_web::http::header::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !headers.contains_key("traceparent") {
        return;
    }
    struct Headers<'a>(&'a actix_web::http::header::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let _ = span.set_parent(parent);
}

/// What the end of a request needs to log and count it.
struct Done<'a> {
    span: &'a tracing::Span,
    settings: &'a HttpSettings,
    method: &'a str,
    started: Instant,
}

/// Access log line and HTTP metrics, once per request.
fn finish(done: Done<'_>, status: actix_web::http::StatusCode, route: &str) {
    let elapsed = done.started.elapsed();
    if let Some(metrics) = &done.settings.metrics {
        metrics
            .http_requests
            .with_label_values(&[done.method, route, status.as_str()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[done.method, route])
            .observe(elapsed.as_secs_f64());
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    done.span.record("route", route);
    done.span.record("status", status.as_u16());
    done.span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), latency_ms, "request");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "request");
        }
    });
}

/// Marks an error response whose body answers another protocol and must be kept as
/// it is, not turned into an error envelope: a readiness probe's `failed` list, the
/// `{"code":"FAIL"}` WeChat Pay expects when a notification is refused.
#[derive(Debug, Clone, Copy)]
pub struct KeepBody;

/// An error response already rendered as an envelope, returned as the middleware's
/// error; actix sends its `error_response` as it is.
#[derive(Debug)]
struct PreRendered(std::cell::RefCell<Option<HttpResponse>>);

impl std::fmt::Display for PreRendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("pre-rendered error response")
    }
}

impl ResponseError for PreRendered {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0
            .borrow()
            .as_ref()
            .map(|r| r.status())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.0
            .borrow_mut()
            .take()
            .unwrap_or_else(|| HttpResponse::InternalServerError().finish())
    }
}

/// The envelope of an error, in the request's language.
fn envelope_json(body: &ErrorBody, render: &Render<'_>) -> serde_json::Value {
    let (message, details) = body.render(render.lang);
    json!({
        "success": false,
        "error": {
            "code": body.code,
            "message": message,
            "details": details,
            "request_id": render.request_id,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "documentation_url": format!("{}#{}", render.docs_url, body.code.to_ascii_lowercase()),
        }
    })
}

/// A whole HTTP/1.1 answer (head and envelope) for a request refused before actix read
/// it (`head_guard`): a fresh request id, the default language, then the connection
/// closes.
pub fn refusal_bytes(error: &crate::error::AppError, settings: &HttpSettings) -> Vec<u8> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let render = Render {
        request_id: &request_id,
        docs_url: &settings.error_docs_url,
        lang: settings.default_lang,
        max_body_bytes: settings.max_body_bytes,
    };
    let body = ErrorBody {
        code: error.code.clone(),
        message: error.message.clone(),
        details: (*error.details).clone(),
    };
    let json = envelope_json(&body, &render).to_string();
    tracing::info!(request_id = %request_id, status = error.status.as_u16(), code = %error.code, "request head refused");
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         content-language: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n{json}",
        error.status.as_u16(),
        error.status.canonical_reason().unwrap_or(""),
        json.len(),
        render.lang.tag(),
    )
    .into_bytes()
}

/// What rendering an envelope needs to know about the request.
struct Render<'a> {
    request_id: &'a str,
    docs_url: &'a str,
    lang: Lang,
    max_body_bytes: usize,
}

fn pre_render(done: Done<'_>, response: HttpResponse, render: &Render<'_>, route: &str) -> Error {
    let status = response.status();
    let mut rendered = envelope_response(&response, render);
    if let Ok(value) = HeaderValue::from_str(render.request_id) {
        rendered.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    finish(done, status, route);
    PreRendered(std::cell::RefCell::new(Some(rendered))).into()
}

fn render_envelope(res: ServiceResponse<BoxBody>, render: &Render<'_>) -> ServiceResponse<BoxBody> {
    let new = envelope_response(res.response(), render);
    let (req, _) = res.into_parts();
    ServiceResponse::new(req, new)
}

/// Renders the envelope for an error response in the caller's language, keeping
/// headers such as Retry-After.
fn envelope_response<B>(old: &HttpResponse<B>, render: &Render<'_>) -> HttpResponse {
    let status = old.status();
    let body = old
        .extensions()
        .get::<ErrorBody>()
        .cloned()
        .unwrap_or_else(|| body_for_status(status, render.max_body_bytes));
    let envelope = envelope_json(&body, render);
    let mut new = HttpResponse::build(status)
        .insert_header((header::CONTENT_LANGUAGE, render.lang.tag()))
        .json(envelope);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use crate::http::extract;
    use actix_web::{middleware::from_fn, test, web, App};

    async fn panics() -> HttpResponse {
        panic!("secret internals: db password is hunter2")
    }

    async fn fails() -> Result<HttpResponse, AppError> {
        Err(Code::UsernameTaken.err())
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        n: u32,
    }

    async fn takes_json(_: web::Json<Body>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    macro_rules! app {
        () => {
            test::init_service(
                App::new()
                    .wrap(from_fn(request_context))
                    .app_data(extract::json_config(64))
                    .route("/panic", web::get().to(panics))
                    .route("/fail", web::get().to(fails))
                    .app_data(web::Data::new(HttpSettings {
                        max_body_bytes: 64,
                        ..HttpSettings::default()
                    }))
                    .app_data(web::PayloadConfig::new(64))
                    .route("/json", web::post().to(takes_json))
                    .route(
                        "/bytes",
                        web::post().to(|b: web::Bytes| async move { b.len().to_string() }),
                    ),
            )
            .await
        };
    }

    /// Calls the app the way the HTTP dispatcher does: an error the middleware returns
    /// is sent as its `error_response`.
    async fn call(
        app: &impl actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse<BoxBody>,
            Error = Error,
        >,
        req: actix_http::Request,
    ) -> (u16, Option<String>, serde_json::Value) {
        let res = match test::try_call_service(app, req).await {
            Ok(res) => res.into_parts().1,
            Err(err) => err.error_response(),
        };
        let status = res.status().as_u16();
        let rid = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = actix_web::body::to_bytes(res.into_body())
            .await
            .unwrap_or_default();
        (
            status,
            rid,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    #[actix_web::test]
    async fn a_panic_becomes_a_500_envelope_without_internals() {
        let app = app!();
        let (status, rid, body) =
            call(&app, test::TestRequest::get().uri("/panic").to_request()).await;
        assert_eq!(status, 500);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "INTERNAL_SERVER_ERROR");
        assert_eq!(body["error"]["request_id"].as_str(), rid.as_deref());
        assert!(body["error"]["details"]["error_id"].is_string());
        assert!(!body.to_string().contains("hunter2"));
        // The server keeps serving after the panic.
        let (status, _, _) = call(&app, test::TestRequest::get().uri("/fail").to_request()).await;
        assert_eq!(status, 409);
    }

    #[actix_web::test]
    async fn incoming_request_id_is_echoed_in_header_and_envelope() {
        let app = app!();
        let req = test::TestRequest::get()
            .uri("/fail")
            .insert_header(("X-Request-Id", "abc-123"))
            .to_request();
        let (_, rid, body) = call(&app, req).await;
        assert_eq!(rid.as_deref(), Some("abc-123"));
        assert_eq!(body["error"]["code"], "USERNAME_TAKEN");
        assert_eq!(body["error"]["request_id"], "abc-123");
        assert_eq!(
            body["error"]["documentation_url"],
            "/docs/errors#username_taken"
        );
    }

    #[actix_web::test]
    async fn messages_follow_accept_language() {
        let app = app!();
        for (accept, message, tag) in [
            (Some("en-US,en;q=0.9"), "this username is taken", "en"),
            (Some("zh-CN"), "该用户名已存在", "zh-CN"),
            (None, "该用户名已存在", "zh-CN"),
        ] {
            let mut req = test::TestRequest::get().uri("/fail");
            if let Some(accept) = accept {
                req = req.insert_header(("Accept-Language", accept));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(
                res.headers().get("content-language").map(|v| v.as_bytes()),
                Some(tag.as_bytes())
            );
            let body: serde_json::Value = test::read_body_json(res).await;
            assert_eq!(body["error"]["message"], message);
            assert_eq!(body["error"]["code"], "USERNAME_TAKEN");
        }
    }

    #[actix_web::test]
    async fn an_unsafe_request_id_is_replaced() {
        let app = app!();
        let req = test::TestRequest::get()
            .uri("/fail")
            .insert_header(("X-Request-Id", "<script>"))
            .to_request();
        let (_, rid, _) = call(&app, req).await;
        let rid = rid.unwrap_or_default();
        assert!(uuid::Uuid::parse_str(&rid).is_ok(), "{rid}");
    }

    #[actix_web::test]
    async fn unknown_routes_and_oversize_bodies_get_envelopes() {
        let app = app!();
        let (status, _, body) =
            call(&app, test::TestRequest::get().uri("/nope").to_request()).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "ROUTE_NOT_FOUND");

        let req = test::TestRequest::post()
            .uri("/json")
            .insert_header(("content-type", "application/json"))
            .set_payload(format!("{{\"n\": 1, \"pad\": \"{}\"}}", "x".repeat(200)))
            .to_request();
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 413);
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
        assert_eq!(body["error"]["details"]["limit_bytes"], 64);

        // A raw body over actix's own limit: the envelope still names the limit.
        let req = test::TestRequest::post()
            .uri("/bytes")
            .insert_header(("accept-language", "en"))
            .set_payload(vec![b'x'; 100])
            .to_request();
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, 413);
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
        assert_eq!(body["error"]["details"]["limit_bytes"], 64, "{body}");
        assert_eq!(
            body["error"]["message"],
            "the request body exceeds 64 bytes"
        );
    }
}
