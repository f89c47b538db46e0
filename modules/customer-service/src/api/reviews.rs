//! `/cs/reviews`: the review queue — list, claim, approve (optionally into the
//! knowledge base), reject.

use actix_web::{web, HttpResponse};
use sea_orm::QueryFilter;
use serde::Deserialize;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::http::pagination::{Order, Page, PageQuery};
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppResult, Kernel};
use utoipa::IntoParams;

use super::messages::MessageView;
use super::State;
use crate::entities::message;
use crate::permissions;
use crate::service::messages::{self, MessageFilter};
use crate::service::review::{self, Approval, Rejection};
use crate::service::shops::ShopScope;

/// Which reviews to list.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waiting for a reviewer (claimed or not).
    Pending,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// `pending` (the default).
    pub status: Option<ReviewStatus>,
    pub shop_id: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Messages waiting for review in the caller's shops, oldest first (permission
/// `cs:review`).
#[utoipa::path(get, path = "/reviews", tag = "cs", operation_id = "list_reviews", params(ReviewQuery),
    responses((status = 200, body = Page<MessageView>)), security(("bearer" = [])))]
pub async fn list_reviews(
    kernel: web::Data<Kernel>,
    principal: Principal,
    q: web::Query<ReviewQuery>,
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
        ..Default::default()
    };
    let found = page
        .fetch(
            messages::query(principal.tenant_id, &scope, &filter).filter(review::pending()),
            message::Column::Id,
            Order::OldestFirst,
            &kernel.db,
            |m| m.id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(found.map(MessageView::from)))
}

async fn current(kernel: &Kernel, principal: &Principal, id: i64) -> AppResult<message::Model> {
    principal.require(kernel, &permissions::REVIEW)?;
    let scope = ShopScope::of(kernel, principal).await?;
    messages::find(&kernel.db, &scope, principal.tenant_id, id).await
}

/// Claim a message for review: no other reviewer may act on it for
/// `cs.review_claim_secs` (10 min); claiming again renews (permission `cs:review`).
#[utoipa::path(post, path = "/reviews/{id}/claim", tag = "cs", operation_id = "claim_review", params(("id" = i64, Path)),
    responses((status = 200, body = MessageView), (status = 409, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn claim(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let m = current(&kernel, &principal, id.into_inner()).await?;
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let claimed = review::claim(
        &txn,
        &ctx,
        &principal,
        &m,
        chrono::Duration::seconds(state.config.review_claim_secs as i64),
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(MessageView::from(claimed)))
}

/// Approve the draft, or send `reply` instead; with `add_to_kb` the message and reply
/// become a KB entry of the shop. The reply goes to the outbox (permission
/// `cs:review`; audited). Of two reviewers approving at once, one gets 409.
#[utoipa::path(post, path = "/reviews/{id}/approve", tag = "cs", operation_id = "approve_review", params(("id" = i64, Path)),
    request_body = Approval,
    responses((status = 200, body = MessageView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn approve(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<Approval>,
) -> AppResult<HttpResponse> {
    let m = current(&kernel, &principal, id.into_inner()).await?;
    let approval = body.into_inner();
    if approval.add_to_kb {
        principal.require(&kernel, &permissions::KB_WRITE)?;
    }
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let approved = review::approve(&txn, &ctx, &principal, &m, &approval).await?;
    txn.commit().await?;
    let outcome = if approved.edited == Some(true) {
        "approved_edited"
    } else {
        "approved_unedited"
    };
    state.metrics.reviews.with_label_values(&[outcome]).inc();
    if approval.add_to_kb {
        state.indexes.changed(principal.tenant_id);
    }
    Ok(HttpResponse::Ok().json(MessageView::from(approved)))
}

/// Reject the draft: the message is ignored, or (`handoff`) handed to a person with the
/// note as `handoff_reason` (permission `cs:review`; audited).
#[utoipa::path(post, path = "/reviews/{id}/reject", tag = "cs", operation_id = "reject_review", params(("id" = i64, Path)),
    request_body = Rejection,
    responses((status = 200, body = MessageView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn reject(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    ctx: RequestContext,
    id: web::Path<i64>,
    body: web::Json<Rejection>,
) -> AppResult<HttpResponse> {
    let m = current(&kernel, &principal, id.into_inner()).await?;
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let rejected = review::reject(&txn, &ctx, &principal, &m, &body.into_inner()).await?;
    txn.commit().await?;
    state.metrics.reviews.with_label_values(&["rejected"]).inc();
    Ok(HttpResponse::Ok().json(MessageView::from(rejected)))
}
