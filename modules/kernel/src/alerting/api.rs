//! `/api/v1/alerts`: history, rules, silences and channel tests (platform superadmins).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::channels::CHANNELS;
use super::Severity;
use crate::audit::{self, Change};
use crate::auth::Principal;
use crate::context::Kernel;
use crate::entities::{alert_event, alert_silence, alert_state};
use crate::error::{AppError, AppResult, Code, FieldErrors};
use crate::http::pagination::{Order, Page, PageQuery};
use crate::http::RequestContext;
use crate::idempotency::{self, WriteOutcome};
use crate::{permissions, tr, validate};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// Only this rule.
    pub rule: Option<String>,
    /// `firing`, `repeat`, `resolved` or `test`.
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertEventView {
    pub id: i64,
    pub rule: String,
    pub key: String,
    pub severity: String,
    pub status: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Channel → `sent`, or why delivery failed.
    #[schema(value_type = Object)]
    pub deliveries: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<alert_event::Model> for AlertEventView {
    fn from(m: alert_event::Model) -> Self {
        Self {
            id: m.id,
            rule: m.rule,
            key: m.key,
            severity: m.severity,
            status: m.status,
            message: m.message,
            details: m.details,
            deliveries: m.deliveries,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub rule: &'static str,
    pub severity: Severity,
    pub watches: &'static str,
    /// Keys of this rule that are firing now.
    pub firing: Vec<String>,
    pub silenced_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// 60 s to 7 days.
    #[schema(minimum = 60, maximum = 604800)]
    pub duration_secs: u64,
    #[schema(max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelTestResult {
    pub channel: String,
    pub delivered: bool,
}

/// Alert history, newest first (permission `alerts:read`).
#[utoipa::path(get, path = "/alerts", tag = "alerts", params(AlertFilter),
    responses((status = 200, body = Page<AlertEventView>), (status = 403, body = crate::error::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_alerts(
    kernel: web::Data<Kernel>,
    principal: Principal,
    filter: web::Query<AlertFilter>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::ALERTS_READ)?;
    let filter = filter.into_inner();
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor,
    }
    .resolve()?;
    let mut query = alert_event::Entity::find();
    if let Some(rule) = filter.rule {
        query = query.filter(alert_event::Column::Rule.eq(rule));
    }
    if let Some(status) = filter.status {
        query = query.filter(alert_event::Column::Status.eq(status));
    }
    let found = page
        .fetch(
            query,
            alert_event::Column::Id,
            Order::NewestFirst,
            &kernel.db,
            |r| r.id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(found.map(AlertEventView::from)))
}

/// The rules, what fires now and what is silenced (permission `alerts:read`).
#[utoipa::path(get, path = "/alerts/rules", tag = "alerts", operation_id = "list_alert_rules",
    responses((status = 200, body = Vec<RuleView>), (status = 403, body = crate::error::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_rules(
    kernel: web::Data<Kernel>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::ALERTS_READ)?;
    let firing = alert_state::Entity::find()
        .filter(alert_state::Column::Status.eq("firing"))
        .all(&kernel.db)
        .await?;
    let silences = alert_silence::Entity::find()
        .filter(alert_silence::Column::Until.gt(Utc::now()))
        .all(&kernel.db)
        .await?;
    let rules: Vec<RuleView> = kernel
        .alerting
        .rules()
        .into_iter()
        .map(|(rule, severity, watches)| RuleView {
            rule,
            severity,
            watches,
            firing: firing
                .iter()
                .filter(|s| s.rule == rule)
                .map(|s| s.key.clone())
                .collect(),
            silenced_until: silences.iter().find(|s| s.rule == rule).map(|s| s.until),
        })
        .collect();
    Ok(HttpResponse::Ok().json(rules))
}

fn known_rule(kernel: &Kernel, rule: &str) -> AppResult<()> {
    let rules = kernel.alerting.rules();
    if rules.iter().any(|(r, _, _)| *r == rule) {
        Ok(())
    } else {
        Err(AppError::not_found("alert rule")
            .with_details(json!({ "valid_rules": rules.iter().map(|r| r.0).collect::<Vec<_>>() })))
    }
}

/// Silence a rule for a while: it is evaluated but announces nothing (permission
/// `alerts:manage`).
#[utoipa::path(post, path = "/alerts/rules/{rule}/silence", tag = "alerts", operation_id = "silence_alert_rule", params(("rule" = String, Path)),
    request_body = SilenceRequest,
    responses((status = 200, body = RuleView), (status = 404, body = crate::error::ErrorEnvelope), (status = 422, body = crate::error::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn silence_rule(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    rule: web::Path<String>,
    body: web::Json<SilenceRequest>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::ALERTS_MANAGE)?;
    let rule = rule.into_inner();
    known_rule(&kernel, &rule)?;
    let mut errors = FieldErrors::new();
    if !(60..=7 * 24 * 3600).contains(&body.duration_secs) {
        errors.add(
            "duration_secs",
            tr!("必须为 60 到 604800", "must be 60 to 604800"),
        );
    }
    if body.reason.trim().is_empty() {
        errors.add("reason", tr!("请填写原因", "give a reason"));
    }
    validate::free_text(
        "reason",
        &body.reason,
        validate::REASON_MAX_CHARS,
        &mut errors,
    );
    errors.into_result()?;
    let until = Utc::now() + chrono::Duration::seconds(body.duration_secs as i64);
    idempotency::execute(&kernel, None, async |txn| {
        alert_silence::Entity::delete_by_id(rule.clone())
            .exec(txn)
            .await?;
        alert_silence::ActiveModel {
            rule: Set(rule.clone()),
            until: Set(until),
            reason: Set(body.reason.trim().to_string()),
            created_by: Set(principal.username.clone()),
            created_at: Set(Utc::now()),
        }
        .insert(txn)
        .await?;
        audit::record(
            txn,
            &ctx,
            &principal.actor(),
            Change {
                tenant_id: principal.tenant_id,
                action: "alert_rule.silence",
                target_type: "alert_rule",
                target_id: rule.clone(),
                summary: json!({ "until": until, "reason": body.reason }),
            },
        )
        .await?;
        let (name, severity, watches) = kernel
            .alerting
            .rules()
            .into_iter()
            .find(|r| r.0 == rule)
            .ok_or_else(|| AppError::not_found("alert rule"))?;
        WriteOutcome::new(
            StatusCode::OK,
            &RuleView {
                rule: name,
                severity,
                watches,
                firing: vec![],
                silenced_until: Some(until),
            },
        )
    })
    .await
}

/// End a rule's silence (permission `alerts:manage`).
#[utoipa::path(delete, path = "/alerts/rules/{rule}/silence", tag = "alerts", operation_id = "unsilence_alert_rule", params(("rule" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn unsilence_rule(
    kernel: web::Data<Kernel>,
    principal: Principal,
    ctx: RequestContext,
    rule: web::Path<String>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::ALERTS_MANAGE)?;
    let rule = rule.into_inner();
    known_rule(&kernel, &rule)?;
    idempotency::execute(&kernel, None, async |txn| {
        let removed = alert_silence::Entity::delete_by_id(rule.clone())
            .exec(txn)
            .await?;
        if removed.rows_affected > 0 {
            audit::record(
                txn,
                &ctx,
                &principal.actor(),
                Change {
                    tenant_id: principal.tenant_id,
                    action: "alert_rule.unsilence",
                    target_type: "alert_rule",
                    target_id: rule.clone(),
                    summary: json!({}),
                },
            )
            .await?;
        }
        Ok(WriteOutcome::no_content())
    })
    .await
}

/// Send a test notice on one channel and report whether it was delivered
/// (permission `alerts:manage`).
#[utoipa::path(post, path = "/alerts/channels/{name}/test", tag = "alerts", operation_id = "test_alert_channel", params(("name" = String, Path, description = "email, wecom, dingtalk, feishu or webhook")),
    responses((status = 200, body = ChannelTestResult), (status = 404, body = crate::error::ErrorEnvelope), (status = 502, body = crate::error::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn test_channel(
    kernel: web::Data<Kernel>,
    principal: Principal,
    name: web::Path<String>,
) -> AppResult<HttpResponse> {
    principal.require(&kernel, &permissions::ALERTS_MANAGE)?;
    let name = name.into_inner();
    let alerting = &kernel.alerting;
    if !CHANNELS.contains(&name.as_str()) || !alerting.channels.is_configured(&name) {
        return Err(Code::ChannelNotConfigured.err().with_details(
            json!({ "channel": name, "configured_channels": alerting.channels.configured() }),
        ));
    }
    let notice = alerting.notice(
        "channel_test",
        &format!("channel_test:{name}"),
        Severity::Info,
        "test",
        &format!(
            "test notice from {} requested by {}",
            "ShopOps", principal.username
        ),
        json!({}),
    );
    let deliveries = alerting.deliver(&kernel, &notice, &[name.as_str()]).await;
    match deliveries.get(&name).map(String::as_str) {
        Some("sent") => Ok(HttpResponse::Ok().json(ChannelTestResult {
            channel: name,
            delivered: true,
        })),
        other => Err(Code::ChannelDeliveryFailed
            .err()
            .with_details(json!({ "channel": name, "error": other.unwrap_or("not attempted") }))),
    }
}
