//! `/gateway/platforms/{id}/login` and `…/request`: a fresh login, and a call through
//! the platform's session (permission `gateway:call`; audited).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::{ErrorEnvelope, FieldErrors, Localized};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use super::State;
use crate::permissions;
use crate::service::calls::{self, Call, Outcome};
use crate::service::{login, Platform};

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewayLogin)]
pub struct LoginView {
    pub account_id: i64,
    pub created_at: DateTime<Utc>,
    /// Captchas fetched for this login.
    pub attempts: u32,
    pub solver: String,
}

/// The audit record of a login or call: one insert, committed on its own (the
/// linker chains it later).
async fn audit_call(
    kernel: &Kernel,
    ctx: &RequestContext,
    principal: &Principal,
    action: &'static str,
    id: i64,
    summary: serde_json::Value,
) -> AppResult<()> {
    super::record(&kernel.db, ctx, principal, action, id, summary).await
}

/// Log in afresh, replacing the platform's session (permission `gateway:call`;
/// audited). Processes already logging in are waited for, not doubled.
#[utoipa::path(post, path = "/platforms/{id}/login", tag = "gateway", operation_id = "login_gateway_platform", params(("id" = i64, Path)),
    responses((status = 200, body = LoginView), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn force_login(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::CALL)?;
    let platform = Platform::load(&kernel, principal.tenant_id, id.into_inner()).await?;
    let stale = platform
        .live_session(&kernel)
        .await?
        .map(|l| l.session.created_at);
    let result = login::session(
        &kernel,
        &state,
        &platform,
        stale.or(Some(DateTime::<Utc>::MIN_UTC)),
    )
    .await;
    let outcome = match &result {
        Ok(_) => "ok".to_string(),
        Err(e) => e.code.to_string(),
    };
    audit_call(
        &kernel,
        &ctx,
        &principal,
        "gateway.platform.login",
        platform.id,
        json!({ "outcome": outcome }),
    )
    .await?;
    let live = result?;
    let info = &live.session.login_info;
    Ok(HttpResponse::Ok().json(LoginView {
        account_id: info.account_id,
        created_at: live.session.created_at,
        attempts: info.attempts,
        solver: info.solver.clone(),
    }))
}

/// A call to make through the session.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GatewayCall)]
pub struct CallBody {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE` or `HEAD`.
    #[schema(min_length = 3, max_length = 7)]
    pub method: String,
    /// A path under the platform's `base_url`, starting with `/` (`/api/orders`).
    #[schema(min_length = 1, max_length = 2048)]
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Extra headers (not `Cookie`, `Host`, `Content-Length`: the session and the
    /// client set those).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, sent as is.
    #[schema(max_length = 1048576)]
    pub body: Option<String>,
    /// The body's type (`application/json`, `application/x-www-form-urlencoded`);
    /// default `text/plain; charset=utf-8`.
    #[schema(max_length = 255)]
    pub content_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GatewayCallAnswer)]
pub struct CallAnswer {
    pub status: u16,
    /// The platform's headers, without `Set-Cookie` (the session's secret).
    pub headers: BTreeMap<String, String>,
    /// The body as text when it is UTF-8.
    pub body: Option<String>,
    /// The body in Base64 when it is not UTF-8.
    pub body_base64: Option<String>,
    /// The body was longer than `gateway.response_max_bytes` and was cut.
    pub truncated: bool,
    /// The session expired on the way and was refreshed.
    pub refreshed: bool,
}

const FORBIDDEN_HEADERS: [&str; 5] = [
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

fn invalid(field: &str, why: &'static str) -> shopops_kernel::AppError {
    let mut errors = FieldErrors::new();
    errors.add(field, Localized::fixed(why, why));
    shopops_kernel::AppError::validation(errors)
}

fn parse(body: CallBody) -> AppResult<Call> {
    let method = match body.method.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        "HEAD" => Method::HEAD,
        _ => {
            return Err(invalid(
                "method",
                "must be GET, POST, PUT, PATCH, DELETE or HEAD",
            ))
        }
    };
    if !body.path.starts_with('/')
        || body.path.starts_with("//")
        || body.path.contains(['?', '#', '\r', '\n'])
    {
        return Err(invalid(
            "path",
            "must be a path starting with / (query in `query`)",
        ));
    }
    let mut path = body.path;
    if !body.query.is_empty() {
        path.push('?');
        path.push_str(&shopops_kernel::encoding::form(
            &body.query.iter().collect::<Vec<_>>(),
        ));
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &body.headers {
        let name = HeaderName::try_from(k.as_str())
            .map_err(|_| invalid("headers", "a header name is not valid"))?;
        if FORBIDDEN_HEADERS.contains(&name.as_str()) {
            return Err(invalid(
                "headers",
                "Cookie, Host, Content-Length, Transfer-Encoding and Connection cannot be set",
            ));
        }
        let value = HeaderValue::from_str(v)
            .map_err(|_| invalid("headers", "a header value is not valid"))?;
        headers.insert(name, value);
    }
    let content_type = match body.content_type {
        None => HeaderValue::from_static("text/plain; charset=utf-8"),
        Some(t) => HeaderValue::from_str(&t)
            .map_err(|_| invalid("content_type", "is not a valid header value"))?,
    };
    let body = body.body.map(|text| (text.into_bytes(), content_type));
    Ok(Call {
        method,
        path,
        headers,
        body,
    })
}

/// Call the platform through its session: logs in when there is none, refreshes once
/// on expiry, retries as the retry table says (permission `gateway:call`; audited:
/// method, path and status, never bodies).
#[utoipa::path(post, path = "/platforms/{id}/request", tag = "gateway", operation_id = "call_gateway_platform", params(("id" = i64, Path)),
    request_body = CallBody,
    responses((status = 200, body = CallAnswer), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope), (status = 502, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn request(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<CallBody>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::CALL)?;
    let call = parse(body.into_inner())?;
    let platform = Platform::load(&kernel, principal.tenant_id, id.into_inner()).await?;
    let result = calls::call(&kernel, &state, &platform, &call).await;
    let path_only = call.path.split('?').next().unwrap_or_default().to_string();
    let summary = match &result {
        Ok((answer, _)) => {
            json!({ "method": call.method.as_str(), "path": path_only, "status": answer.status })
        }
        Err(e) => json!({ "method": call.method.as_str(), "path": path_only, "error": e.code }),
    };
    audit_call(
        &kernel,
        &ctx,
        &principal,
        "gateway.platform.request",
        platform.id,
        summary,
    )
    .await?;
    let (answer, outcome) = result?;
    let headers = answer
        .headers
        .iter()
        .filter(|(k, _)| *k != reqwest::header::SET_COOKIE)
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let (body, body_base64) = match String::from_utf8(answer.body) {
        Ok(text) => (Some(text), None),
        Err(raw) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(raw.into_bytes())),
        ),
    };
    Ok(HttpResponse::Ok().json(CallAnswer {
        status: answer.status,
        headers,
        body,
        body_base64,
        truncated: answer.truncated,
        refreshed: outcome == Outcome::Refreshed,
    }))
}
