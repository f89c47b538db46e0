//! Message push: the platform's webhook, and the tenant's stored events.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Page, PageQuery};
use shopops_kernel::{AppResult, Kernel};
use utoipa::ToSchema;

use crate::entities::event;
use crate::permissions;
use crate::platform::Platform;
use crate::service::events::DispatchStatus;
use crate::service::push::{self, PushHeaders};
use crate::store;

#[derive(Debug, Serialize, ToSchema)]
pub struct PushAck {
    /// 1: received (also for a message already received).
    pub result: i32,
    /// True when every shop holding the seller had this message already.
    pub duplicate: bool,
}

/// Message push from the platform: verified, decrypted when encrypted, stored once per
/// message id for each shop that holds the seller (revoked shops get nothing) before it
/// is acknowledged; a message for a seller nobody holds is acknowledged and dropped.
/// No bearer token: the signature authenticates.
#[utoipa::path(post, path = "/webhooks", tag = "kuaishou",
    params(("X-Kuaishou-Signature" = String, Header), ("X-Kuaishou-Timestamp" = String, Header)),
    responses((status = 200, body = PushAck), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
pub async fn webhook(
    kernel: web::Data<Kernel>,
    platform: web::Data<Arc<Platform>>,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let headers = PushHeaders {
        signature: header("X-Kuaishou-Signature"),
        timestamp: header("X-Kuaishou-Timestamp"),
    };
    let duplicate = push::receive(&kernel, &platform, &headers, &body).await?;
    Ok(HttpResponse::Ok().json(PushAck {
        result: 1,
        duplicate,
    }))
}

/// A stored message-push event and how its dispatch to the handlers stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub message_id: String,
    pub event: String,
    pub shop_id: Option<i64>,
    /// The message as the platform sent it (decrypted).
    #[schema(value_type = Object)]
    pub payload: Value,
    pub received_at: DateTime<Utc>,
    pub dispatch: DispatchView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchView {
    pub status: DispatchStatus,
    pub attempts: i64,
    /// While pending: not before this.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

fn event_view(e: event::Model) -> EventView {
    EventView {
        id: e.id,
        message_id: e.message_id,
        event: e.event,
        shop_id: e.shop_id,
        payload: e.payload,
        received_at: e.received_at,
        dispatch: DispatchView {
            status: e.dispatch_status,
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            last_error: e.last_error,
        },
    }
}

/// Message-push events of the tenant's shops, newest first (permission `kuaishou:read`).
#[utoipa::path(get, path = "/events", tag = "kuaishou", params(PageQuery), responses((status = 200, body = Page<EventView>)), security(("bearer" = [])))]
pub async fn list_events(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::READ)?;
    let page = store::events(&kernel.db, principal.tenant_id, q.resolve()?).await?;
    Ok(HttpResponse::Ok().json(page.map(event_view)))
}
