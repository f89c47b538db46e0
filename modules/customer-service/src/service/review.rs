//! The review queue: drafts wait (oldest first) for a reviewer of the shop, who claims
//! one (a claim holds for `cs.review_claim_secs`, 10 min by default), then approves it
//! — as drafted or edited, optionally adding it to the knowledge base — or rejects it.
//! Each step is one conditional write, so two reviewers acting at once make one change
//! and the other gets 409.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseTransaction, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::auth::Principal;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, validate, AppResult};
use utoipa::ToSchema;

use super::kb::{self, EntryContent, EntrySource, RawContent, Writer};
use super::messages::{self, Step};
use super::states::{Delivery, MessageStatus};
use crate::entities::message;
use crate::error::Code;

pub const NOTE_MAX_CHARS: usize = 500;
pub const REPLY_MAX_CHARS: usize = 2000;

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The reply to send; absent: the draft as it is.
    #[schema(min_length = 1, max_length = 2000)]
    pub reply: Option<String>,
    /// Also add the message and the reply to the shop's knowledge base (`source:
    /// review`), so the next buyer asking gets it from there.
    #[serde(default)]
    pub add_to_kb: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Why (kept in the message's history).
    #[schema(min_length = 1, max_length = 500)]
    pub note: String,
    /// Hand the buyer to a person (the note becomes the `handoff_reason`); default:
    /// the message is ignored.
    #[serde(default)]
    pub handoff: bool,
}

fn claimable_by(user: i64) -> Condition {
    Condition::any()
        .add(message::Column::ClaimedBy.is_null())
        .add(message::Column::ClaimedBy.eq(user))
        .add(message::Column::ClaimUntil.lt(Utc::now()))
}

/// Why a step did not happen, from the message as it is now (the caller's copy was
/// read before another reviewer's step).
async fn refused_now(
    txn: &DatabaseTransaction,
    current: &message::Model,
    user: i64,
) -> shopops_kernel::AppError {
    match message::Entity::find_by_id(current.id).one(txn).await {
        Ok(Some(now)) => refused(&now, user),
        Ok(None) => shopops_kernel::AppError::not_found("cs_message"),
        Err(e) => e.into(),
    }
}

/// Why a step on a message in review did not happen: it left review, or another
/// reviewer holds it.
fn refused(current: &message::Model, user: i64) -> shopops_kernel::AppError {
    if current.status != MessageStatus::Review {
        return Code::NotInReview
            .err()
            .with_details(json!({ "status": current.status }));
    }
    match (current.claimed_by, current.claim_until) {
        (Some(holder), Some(until)) if holder != user && until > Utc::now() => Code::ReviewClaimed
            .err()
            .with_details(json!({ "claimed_by": holder, "claim_until": until })),
        _ => Code::NotInReview
            .err()
            .with_details(json!({ "status": current.status })),
    }
}

/// Takes the message for `principal` for `claim` (renews its own claim).
pub async fn claim(
    txn: &DatabaseTransaction,
    ctx: &RequestContext,
    principal: &Principal,
    current: &message::Model,
    claim: Duration,
) -> AppResult<message::Model> {
    let until = Utc::now() + claim;
    let step = Step {
        message: current,
        from: MessageStatus::Review,
        to: MessageStatus::Review,
        set: vec![
            (message::Column::ClaimedBy, Expr::value(principal.user_id)),
            (message::Column::ClaimUntil, Expr::value(until)),
        ],
        guard: Some(claimable_by(principal.user_id)),
        event: "claimed",
        details: json!({ "claim_until": until }),
    };
    match messages::advance(txn, ctx, &principal.actor(), step).await? {
        Some(done) => Ok(done),
        None => Err(refused_now(txn, current, principal.user_id).await),
    }
}

/// Approves the draft (or `approval.reply`): the message is answered and its reply
/// goes to the outbox.
pub async fn approve(
    txn: &DatabaseTransaction,
    ctx: &RequestContext,
    principal: &Principal,
    current: &message::Model,
    approval: &Approval,
) -> AppResult<message::Model> {
    let mut errors = FieldErrors::new();
    let reply = match (&approval.reply, &current.reply_text) {
        (Some(reply), _) => reply.trim().to_string(),
        (None, Some(draft)) => draft.clone(),
        (None, None) => String::new(),
    };
    if reply.is_empty() {
        errors.add(
            "reply",
            tr!("没有草稿：请填写回复", "there is no draft: write the reply"),
        );
    }
    validate::free_text("reply", &reply, REPLY_MAX_CHARS, &mut errors);
    errors.into_result()?;
    let edited = current.reply_text.as_deref() != Some(reply.as_str());
    let now = Utc::now();
    let step = Step {
        message: current,
        from: MessageStatus::Review,
        to: MessageStatus::Answered,
        set: vec![
            (message::Column::ReplyText, Expr::value(reply.clone())),
            (message::Column::Edited, Expr::value(edited)),
            (message::Column::ReviewedBy, Expr::value(principal.user_id)),
            (message::Column::ReviewedAt, Expr::value(now)),
            (message::Column::Delivery, Expr::value(Delivery::Ready)),
            (message::Column::ReadyAt, Expr::value(now)),
        ],
        guard: Some(claimable_by(principal.user_id)),
        event: "approved",
        details: json!({ "edited": edited, "add_to_kb": approval.add_to_kb }),
    };
    let approved = match messages::advance(txn, ctx, &principal.actor(), step).await? {
        Some(done) => Ok(done),
        None => Err(refused_now(txn, current, principal.user_id).await),
    }?;
    if approval.add_to_kb {
        add_to_kb(txn, ctx, principal, &approved, &reply).await?;
    }
    Ok(approved)
}

/// The message (as the question) and its approved reply (as the answer) become a KB
/// entry of the shop.
async fn add_to_kb(
    txn: &DatabaseTransaction,
    ctx: &RequestContext,
    principal: &Principal,
    message: &message::Model,
    reply: &str,
) -> AppResult<()> {
    let question: String = message
        .content
        .chars()
        .take(kb::QUESTION_MAX_CHARS)
        .collect();
    let content = EntryContent::parse(RawContent {
        shop_id: Some(message.shop_id),
        // A question is one line.
        question: question.split_whitespace().collect::<Vec<_>>().join(" "),
        answer: reply.to_string(),
        ..Default::default()
    })
    .map_err(shopops_kernel::AppError::validation)?;
    let writer = Writer {
        ctx,
        actor: principal.actor(),
        tenant_id: principal.tenant_id,
    };
    let entry = kb::create(txn, &writer, &content, EntrySource::Review, None).await?;
    messages::event(
        txn,
        message,
        "added_to_kb",
        &principal.username,
        json!({ "kb_entry_id": entry.id }),
    )
    .await
}

/// Rejects the draft: the message is ignored, or handed to a person.
pub async fn reject(
    txn: &DatabaseTransaction,
    ctx: &RequestContext,
    principal: &Principal,
    current: &message::Model,
    rejection: &Rejection,
) -> AppResult<message::Model> {
    let mut errors = FieldErrors::new();
    let note = rejection.note.trim();
    if note.is_empty() {
        errors.add("note", tr!("请说明原因", "say why"));
    }
    validate::free_text("note", note, NOTE_MAX_CHARS, &mut errors);
    errors.into_result()?;
    let step = Step {
        message: current,
        from: MessageStatus::Review,
        to: MessageStatus::Ignored,
        set: vec![
            (message::Column::ReviewedBy, Expr::value(principal.user_id)),
            (message::Column::ReviewedAt, Expr::value(Utc::now())),
            (
                message::Column::HandoffReason,
                Expr::value(rejection.handoff.then(|| note.to_string())),
            ),
        ],
        guard: Some(claimable_by(principal.user_id)),
        event: "rejected",
        details: json!({ "note": note, "handoff": rejection.handoff }),
    };
    match messages::advance(txn, ctx, &principal.actor(), step).await? {
        Some(done) => Ok(done),
        None => Err(refused_now(txn, current, principal.user_id).await),
    }
}

/// Messages waiting for a reviewer (the queue's filter).
pub fn pending() -> Condition {
    Condition::all().add(message::Column::Status.eq(MessageStatus::Review))
}
