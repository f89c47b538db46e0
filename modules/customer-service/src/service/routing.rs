//! Routing a new message (docs/customer-service.md, "Routing"): search the knowledge
//! base as the shop sees it; by the best match's confidence, the KB answer
//! (`kb_auto`), an LLM draft with the KB answer as reference (`kb_assist`), or an LLM
//! draft alone (`llm_only`). Only a `kb_auto` answer can go out without a person, and
//! only when the shop's rules let it (`auto_mode`, blacklist, whitelist, business
//! hours); everything else waits in review. A failing LLM provider never loses the
//! message: it waits in review with no draft and the reason.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use shopops_kernel::audit::Actor;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppResult, Kernel};

use super::llm::{ChatRequest, KbContext, LlmError, DEFAULT_SYSTEM_PROMPT};
use super::messages::{self, Step};
use super::rules::{Band, BusinessHours, ReplyRules};
use super::states::{Delivery, MessageStatus, ReplySource};
use super::{settings, Services};
use crate::entities::{kb_entry, message, shop};
use crate::store;

/// A draft kept in the reply cache.
#[derive(Serialize, Deserialize)]
struct CachedDraft {
    text: String,
    model: String,
}

/// Routes `message` (status `new`) of `shop` to its decision; the message as it is
/// after. A message another replica routed meanwhile is returned as that replica left
/// it.
pub async fn route(
    kernel: &Kernel,
    services: &Services,
    ctx: &RequestContext,
    shop: &shop::Model,
    message: message::Model,
) -> AppResult<message::Model> {
    let started = Instant::now();
    let tenant = settings::get(&kernel.db, message.tenant_id, &services.config.time_zone).await?;
    let (hits, _) = services
        .searcher(kernel)
        .search(message.tenant_id, &message.content, Some(shop.id), 1)
        .await?;
    let best = hits.into_iter().next();
    let confidence = best.as_ref().map(|h| f64::from(h.confidence));
    let band = Band::of(confidence, shop.kb_auto_threshold, shop.kb_assist_threshold);
    let entry = match &best {
        Some(hit) if band != Band::LlmOnly => {
            kb_entry::Entity::find_by_id(hit.entry_id)
                .one(&kernel.db)
                .await?
        }
        _ => None,
    };
    let system = Actor::system("cs routing");
    let mut details = json!({ "band": band.as_str(), "confidence": confidence, "kb_entry_id": entry.as_ref().map(|e| e.id) });

    let decision = match (band, &entry) {
        (Band::KbAuto, Some(entry)) => {
            let rules = ReplyRules::new(
                shop.auto_mode,
                &serde_json::from_value::<Vec<String>>(shop.blacklist.clone()).unwrap_or_default(),
                &serde_json::from_value::<Vec<String>>(shop.whitelist.clone()).unwrap_or_default(),
                BusinessHours::parse(&shop.business_hours).unwrap_or_default(),
            );
            let local = message.received_at.with_timezone(&tenant.tz()).time();
            match rules.hold(&message.customer_id, &message.content, local) {
                None => Decision::send(entry),
                Some(hold) => Decision::review_kb(entry, hold.as_str()),
            }
        }
        _ => {
            let context = entry.as_ref().map(|e| KbContext {
                question: e.question.clone(),
                answer: e.answer.clone(),
            });
            let request = ChatRequest {
                system: tenant
                    .system_prompt
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_string()),
                kb_context: context,
                message: message.content.clone(),
            };
            match draft(kernel, services, shop, &message, entry.as_ref(), &request).await {
                Ok(reply) => Decision::review_llm(band, entry.as_ref(), reply),
                Err(e) => {
                    let reason = e.to_string();
                    details["llm_failure"] = json!(reason);
                    Decision::review_failed(band, entry.as_ref(), reason)
                }
            }
        }
    };
    details["decided_by"] = json!(decision.decided_by);
    details["auto_send"] = json!(decision.auto_send);
    let to = if decision.auto_send {
        MessageStatus::Answered
    } else {
        MessageStatus::Review
    };
    let now = Utc::now();
    let mut set = vec![
        (
            message::Column::DecidedBy,
            Expr::value(decision.decided_by.clone()),
        ),
        (message::Column::Confidence, Expr::value(confidence)),
        (
            message::Column::KbEntryId,
            Expr::value(decision.kb_entry_id),
        ),
        (
            message::Column::ReplyText,
            Expr::value(decision.text.clone()),
        ),
        (message::Column::ReplySource, Expr::value(decision.source)),
        (
            message::Column::ReplyModel,
            Expr::value(decision.model.clone()),
        ),
        (message::Column::AutoSend, Expr::value(decision.auto_send)),
        (
            message::Column::DraftFailure,
            Expr::value(decision.failure.clone()),
        ),
    ];
    if decision.auto_send {
        set.push((message::Column::Delivery, Expr::value(Delivery::Ready)));
        set.push((message::Column::ReadyAt, Expr::value(now)));
    }
    let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
    let step = Step {
        message: &message,
        from: MessageStatus::New,
        to,
        set,
        guard: None,
        event: "routed",
        details,
    };
    let routed = messages::advance(&txn, ctx, &system, step).await?;
    txn.commit().await?;
    match routed {
        Some(m) => {
            let metrics = &services.metrics;
            metrics
                .messages
                .with_label_values(&[&decision.decided_by])
                .inc();
            metrics
                .decision_seconds
                .observe(started.elapsed().as_secs_f64());
            Ok(m)
        }
        // Another replica routed it meanwhile (and counted it).
        None => {
            messages::find(
                &kernel.db,
                &super::shops::ShopScope::All,
                message.tenant_id,
                message.id,
            )
            .await
        }
    }
}

/// An LLM draft, from the reply cache when the same question was drafted for the
/// shop against the same knowledge base within `cs.reply_cache_secs`.
async fn draft(
    kernel: &Kernel,
    services: &Services,
    shop: &shop::Model,
    message: &message::Model,
    entry: Option<&kb_entry::Model>,
    request: &ChatRequest,
) -> Result<CachedDraft, LlmError> {
    let kb_version = store::current_seq(&kernel.db, message.tenant_id)
        .await
        .unwrap_or_default();
    let ttl = Duration::from_secs(services.config.reply_cache_secs);
    if ttl.is_zero() {
        let reply = services.llm.reply(&shop.ai_model, request).await?;
        return Ok(CachedDraft {
            text: reply.text,
            model: reply.model,
        });
    }
    // The prompt is part of the key: a tenant's new prompt takes effect at once.
    let prompt = hex::encode(&Sha256::digest(request.system.as_bytes())[..8]);
    let key = format!(
        "cs:reply:{}:{}:{}:{}:{}:{}:{}",
        message.tenant_id,
        shop.id,
        shop.ai_model,
        kb_version,
        entry.map_or(0, |e| e.id),
        prompt,
        message.content_key
    );
    let cache = &kernel.cache.cache;
    let hits = &services.metrics.reply_cache;
    if let Ok(Some(found)) = cache.get(&key).await {
        if let Ok(draft) = serde_json::from_str::<CachedDraft>(&found) {
            hits.with_label_values(&["hit"]).inc();
            return Ok(draft);
        }
    }
    hits.with_label_values(&["miss"]).inc();
    let reply = services.llm.reply(&shop.ai_model, request).await?;
    let draft = CachedDraft {
        text: reply.text,
        model: reply.model,
    };
    if let Ok(value) = serde_json::to_string(&draft) {
        // A cache that is down costs a later LLM call, never this reply.
        let _ = cache.set(&key, &value, ttl).await;
    }
    Ok(draft)
}

/// What routing decided, before it is written.
struct Decision {
    decided_by: String,
    auto_send: bool,
    kb_entry_id: Option<i64>,
    text: Option<String>,
    source: Option<ReplySource>,
    model: Option<String>,
    failure: Option<String>,
}

impl Decision {
    /// The KB answer, sent without review.
    fn send(entry: &kb_entry::Model) -> Self {
        Self {
            auto_send: true,
            ..Self::review_kb(entry, Band::KbAuto.as_str())
        }
    }

    /// The KB answer as the draft, held back by rule `by`.
    fn review_kb(entry: &kb_entry::Model, by: &str) -> Self {
        Self {
            decided_by: by.to_string(),
            auto_send: false,
            kb_entry_id: Some(entry.id),
            text: Some(entry.answer.clone()),
            source: Some(ReplySource::Kb),
            model: None,
            failure: None,
        }
    }

    fn review_llm(band: Band, entry: Option<&kb_entry::Model>, draft: CachedDraft) -> Self {
        Self {
            decided_by: band.as_str().to_string(),
            auto_send: false,
            kb_entry_id: entry.map(|e| e.id),
            text: Some(draft.text),
            source: Some(ReplySource::Llm),
            model: Some(draft.model),
            failure: None,
        }
    }

    /// No draft: the provider failed; a person answers.
    fn review_failed(band: Band, entry: Option<&kb_entry::Model>, reason: String) -> Self {
        Self {
            decided_by: band.as_str().to_string(),
            auto_send: false,
            kb_entry_id: entry.map(|e| e.id),
            text: None,
            source: None,
            model: None,
            failure: Some(reason),
        }
    }
}
