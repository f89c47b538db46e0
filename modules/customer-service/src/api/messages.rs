//! `/cs/messages`: buyer messages in (routed at once), and read with their reply and
//! history.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Order, Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::idempotency::IdempotencyRequest;
use shopops_kernel::{AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::State;
use crate::entities::{message, message_event};
use crate::permissions;
use crate::service::messages::{self, MessageFilter, NewMessage, Taken};
use crate::service::routing;
use crate::service::shops::{self, ShopScope};
use crate::service::states::{Delivery, MessageSource, MessageStatus, ReplySource};

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyView {
    /// None when the LLM failed and no draft exists.
    pub text: Option<String>,
    pub source: Option<ReplySource>,
    /// The best KB match's confidence.
    pub confidence: Option<f64>,
    pub auto_send: bool,
    pub kb_entry_id: Option<i64>,
    /// `<provider>:<model>` of an LLM draft.
    pub model: Option<String>,
    /// Changed by the reviewer.
    pub edited: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub shop_id: i64,
    pub customer_id: String,
    pub content: String,
    pub source: MessageSource,
    pub received_at: DateTime<Utc>,
    pub status: MessageStatus,
    /// The rule that routed it: `kb_auto`, `kb_assist`, `llm_only`, or the rule that
    /// held a KB answer back (`auto_mode_off`, `blacklist_customer`,
    /// `blacklist_keyword`, `not_whitelisted`, `outside_business_hours`); empty while
    /// `new`.
    pub decided_by: String,
    pub reply: ReplyView,
    /// Why there is no draft (the LLM provider's failure).
    pub draft_failure: Option<String>,
    pub claimed_by: Option<i64>,
    pub claim_until: Option<DateTime<Utc>>,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Set when a reviewer handed the buyer to a person.
    pub handoff_reason: Option<String>,
    pub delivery: Delivery,
    pub delivery_attempts: i64,
    pub delivery_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<message::Model> for MessageView {
    fn from(m: message::Model) -> Self {
        Self {
            id: m.id,
            shop_id: m.shop_id,
            customer_id: m.customer_id,
            content: m.content,
            source: m.source,
            received_at: m.received_at,
            status: m.status,
            decided_by: m.decided_by,
            reply: ReplyView {
                text: m.reply_text,
                source: m.reply_source,
                confidence: m.confidence,
                auto_send: m.auto_send,
                kb_entry_id: m.kb_entry_id,
                model: m.reply_model,
                edited: m.edited,
            },
            draft_failure: m.draft_failure,
            claimed_by: m.claimed_by,
            claim_until: m.claim_until,
            reviewed_by: m.reviewed_by,
            reviewed_at: m.reviewed_at,
            handoff_reason: m.handoff_reason,
            delivery: m.delivery,
            delivery_attempts: m.delivery_attempts,
            delivery_error: m.delivery_error,
            sent_at: m.sent_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CsMessageEvent)]
pub struct EventView {
    pub kind: String,
    pub actor: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl From<message_event::Model> for EventView {
    fn from(e: message_event::Model) -> Self {
        Self {
            kind: e.kind,
            actor: e.actor,
            details: e.details,
            at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: MessageView,
    /// Oldest first.
    pub history: Vec<EventView>,
}

/// Post a buyer message (permission `cs:messages:write`; the desktop agent posts with
/// its API token). It is routed before the answer: 201 with the decision. The same
/// shop, customer and normalised text within `cs.duplicate_window_secs` (60 s), or the
/// same `Idempotency-Key`, is the same message: 200 with it as it is now.
#[utoipa::path(post, path = "/messages", tag = "cs", operation_id = "post_message", request_body = NewMessage,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = MessageView), (status = 200, body = MessageView, description = "the same message was posted before"),
        (status = 404, body = ErrorEnvelope, description = "no such shop (among the caller's)"),
        (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn post_message(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    req: actix_web::HttpRequest,
    body: web::Json<NewMessage>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MESSAGES_WRITE)?;
    let new = body.into_inner();
    // The key is kept on the message itself (a repeat answers the message as it is now,
    // not a stored response); the kernel reads and hashes it as for any write.
    let idem =
        IdempotencyRequest::from_request(&req, &principal, "POST /api/v1/cs/messages", &new)?
            .map(|r| (r.key().to_string(), r.request_hash().to_string()));
    let scope = ShopScope::of(&kernel, &principal).await?;
    let shop = shops::find(&kernel.db, &scope, principal.tenant_id, new.shop_id).await?;
    let window = chrono::Duration::seconds(state.config.duplicate_window_secs as i64);
    let taken =
        messages::take(&kernel, &ctx, &principal.actor(), &shop, &new, idem, window).await?;
    match taken {
        Taken::Existing(m) => Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(MessageView::from(m))),
        Taken::New(m) => {
            let routed = routing::route(&kernel, &state, &ctx, &shop, m).await?;
            Ok(HttpResponse::Created().json(MessageView::from(routed)))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub shop_id: Option<i64>,
    pub status: Option<MessageStatus>,
    #[param(max_length = 64)]
    pub customer_id: Option<String>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

/// Messages of the caller's shops, newest first (permission `cs:messages:read`).
#[utoipa::path(get, path = "/messages", tag = "cs", operation_id = "list_messages", params(MessageQuery),
    responses((status = 200, body = Page<MessageView>)), security(("bearer" = [])))]
pub async fn list_messages(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<MessageQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MESSAGES_READ)?;
    let q = q.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .resolve()?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let filter = MessageFilter {
        shop_id: q.shop_id,
        status: q.status,
        customer_id: q.customer_id,
        from: q.from,
        to: q.to,
    };
    let found = page
        .fetch(
            messages::query(principal.tenant_id, &scope, &filter),
            message::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |m| m.id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(found.map(MessageView::from)))
}

/// One message with its reply and history (permission `cs:messages:read`).
#[utoipa::path(get, path = "/messages/{id}", tag = "cs", operation_id = "get_message", params(("id" = i64, Path)),
    responses((status = 200, body = MessageDetail)), security(("bearer" = [])))]
pub async fn get_message(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::MESSAGES_READ)?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let found = messages::find(&kernel.db, &scope, principal.tenant_id, id.into_inner()).await?;
    let history = messages::history(&kernel.db, &found).await?;
    Ok(HttpResponse::Ok().json(MessageDetail {
        message: MessageView::from(found),
        history: history.into_iter().map(EventView::from).collect(),
    }))
}
