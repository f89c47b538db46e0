//! `/cs/outbox`, `/cs/agents`: the desktop agent's protocol — take replies to type
//! (leased), acknowledge them, send heartbeats — and the agents' list.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use shopops_kernel::auth::Principal;
use shopops_kernel::error::ErrorEnvelope;
use shopops_kernel::{AppResult, Kernel};
use utoipa::{IntoParams, ToSchema};

use super::messages::MessageView;
use super::State;
use crate::entities::agent;
use crate::permissions;
use crate::service::messages;
use crate::service::outbox::{self, Ack, AckResult, Heartbeat, OutboxItem};
use crate::service::shops::{self, ShopScope};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    pub shop_id: i64,
    /// At most this many replies (1–50, default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u64>,
}

/// Replies ready to type for a shop, oldest first, each leased to the calling agent
/// for the shop's `reply_delay` plus `cs.outbox_lease_secs` (60 s) — no agent, the
/// caller included, is offered it again meanwhile (permission `cs:agent`). Wait
/// `reply_delay` seconds, type, then acknowledge.
#[utoipa::path(get, path = "/outbox", tag = "cs", operation_id = "take_outbox", params(OutboxQuery),
    responses((status = 200, body = Vec<OutboxItem>),
        (status = 404, body = ErrorEnvelope, description = "no such shop (among the caller's)")),
    security(("bearer" = [])))]
pub async fn take(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    q: web::Query<OutboxQuery>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::AGENT)?;
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(shopops_kernel::error::Code::InvalidQuery
            .err()
            .with_details(serde_json::json!({ "reason": "limit must be 1 to 50" })));
    }
    let scope = ShopScope::of(&kernel, &principal).await?;
    let shop = shops::find(&kernel.db, &scope, principal.tenant_id, q.shop_id).await?;
    // The agent waits `reply_delay` before typing: the lease covers the wait too.
    let lease = chrono::Duration::seconds(state.config.outbox_lease_secs as i64 + shop.reply_delay);
    let holder = outbox::holder(&principal);
    let items = outbox::take(
        &kernel.db,
        principal.tenant_id,
        shop.id,
        shop.reply_delay,
        &holder,
        limit,
        lease,
    )
    .await?;
    Ok(HttpResponse::Ok().json(items))
}

/// Say what became of a reply the agent holds: `sent` (never offered again) or
/// `failed` (offered again; after `cs.delivery_max_attempts` failures handed to a
/// person). 409 when the lease is not the caller's (permission `cs:agent`).
#[utoipa::path(post, path = "/outbox/{id}/ack", tag = "cs", operation_id = "ack_outbox", params(("id" = i64, Path)),
    request_body = Ack,
    responses((status = 200, body = MessageView), (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn ack(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    id: web::Path<i64>,
    body: web::Json<Ack>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::AGENT)?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let current = messages::find(&kernel.db, &scope, principal.tenant_id, id.into_inner()).await?;
    let ack = body.into_inner();
    let holder = outbox::holder(&principal);
    let after = outbox::ack(
        &kernel.db,
        &current,
        &holder,
        &ack,
        state.config.delivery_max_attempts,
    )
    .await?;
    let outcome = match (ack.result, after.delivery) {
        (AckResult::Sent, _) => "sent",
        (AckResult::Failed, crate::service::states::Delivery::Failed) => "delivery_failed",
        (AckResult::Failed, _) => "send_failed",
    };
    state.metrics.deliveries.with_label_values(&[outcome]).inc();
    Ok(HttpResponse::Ok().json(MessageView::from(after)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    pub id: i64,
    pub user_id: i64,
    pub host: String,
    pub version: String,
    pub shop_ids: Vec<i64>,
    pub last_seen: DateTime<Utc>,
    /// `online`, or `offline` after `cs.agent_offline_secs` (2 min) without a heartbeat.
    pub status: String,
}

fn view(a: agent::Model, offline_secs: u64) -> AgentView {
    let online = Utc::now() - a.last_seen < chrono::Duration::seconds(offline_secs as i64);
    AgentView {
        id: a.id,
        user_id: a.user_id,
        host: a.host,
        version: a.version,
        shop_ids: serde_json::from_value(a.shop_ids).unwrap_or_default(),
        last_seen: a.last_seen,
        status: if online { "online" } else { "offline" }.into(),
    }
}

/// The desktop agent is alive and watches these shops (permission `cs:agent`). An
/// agent silent for `cs.agent_offline_secs` shows `offline` and raises
/// `cs_agent_offline`.
#[utoipa::path(post, path = "/agents/heartbeat", tag = "cs", operation_id = "agent_heartbeat", request_body = Heartbeat,
    responses((status = 200, body = AgentView), (status = 422, body = ErrorEnvelope)), security(("bearer" = [])))]
pub async fn heartbeat(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
    body: web::Json<Heartbeat>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::AGENT)?;
    let scope = ShopScope::of(&kernel, &principal).await?;
    let known: Vec<i64> = crate::entities::shop::Entity::find()
        .filter(crate::entities::shop::Column::TenantId.eq(principal.tenant_id))
        .all(&kernel.db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .filter(|id| scope.allows(*id))
        .collect();
    let saved = outbox::heartbeat(&kernel.db, &principal, &body.into_inner(), |id| {
        known.contains(&id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(saved, state.config.agent_offline_secs)))
}

/// The tenant's desktop agents with their status (permission `cs:shops:read`; agents
/// see their own).
#[utoipa::path(get, path = "/agents", tag = "cs", operation_id = "list_agents",
    responses((status = 200, body = Vec<AgentView>)), security(("bearer" = [])))]
pub async fn list_agents(
    kernel: web::Data<Kernel>,
    state: web::Data<State>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_READ)?;
    let mut q = agent::Entity::find().filter(agent::Column::TenantId.eq(principal.tenant_id));
    if ShopScope::of(&kernel, &principal).await? != ShopScope::All {
        q = q.filter(agent::Column::UserId.eq(principal.user_id));
    }
    let found = q.order_by_asc(agent::Column::Id).all(&kernel.db).await?;
    let offline = state.config.agent_offline_secs;
    Ok(HttpResponse::Ok().json(
        found
            .into_iter()
            .map(|a| view(a, offline))
            .collect::<Vec<_>>(),
    ))
}

/// Forget a desktop agent that was retired (its offline alert resolves; permission
/// `cs:shops:write`).
#[utoipa::path(delete, path = "/agents/{id}", tag = "cs", operation_id = "delete_agent", params(("id" = i64, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_agent(
    kernel: web::Data<Kernel>,
    principal: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::SHOPS_WRITE)?;
    let gone = agent::Entity::delete_many()
        .filter(agent::Column::TenantId.eq(principal.tenant_id))
        .filter(agent::Column::Id.eq(id.into_inner()))
        .exec(&kernel.db)
        .await?;
    if gone.rows_affected == 0 {
        return Err(shopops_kernel::AppError::not_found("cs_agent"));
    }
    Ok(HttpResponse::NoContent().finish())
}
