//! Alerting: rules evaluated on a schedule, routed by severity to channels, with one
//! notice per fault per cool-down window and one "resolved" notice when it clears.
//!
//! De-duplication lives in the database (`alert_states`), through conditional
//! updates: of several replicas seeing the same fault, exactly one wins the right to
//! announce it. Every notice is kept in `alert_events` with its delivery results.

pub mod api;
pub mod channels;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use utoipa::ToSchema;

use crate::context::Kernel;
use crate::entities::{alert_event, alert_silence, alert_state};
use channels::Channels;
pub use rules::Finding;
use rules::HttpTotals;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One message to the channels.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub rule: String,
    pub key: String,
    pub severity: Severity,
    /// `firing`, `repeat` (still firing after the cool-down), `resolved` or `test`.
    pub status: String,
    pub message: String,
    pub details: Value,
    pub at: chrono::DateTime<Utc>,
    pub host: String,
}

impl Notice {
    pub fn title(&self) -> String {
        let tag = match self.status.as_str() {
            "resolved" => "RESOLVED".to_string(),
            "test" => "TEST".to_string(),
            _ => self.severity.as_str().to_ascii_uppercase(),
        };
        format!("[{tag}] {}: {}", self.key, self.message)
    }

    pub fn text(&self) -> String {
        format!(
            "{}\nrule: {}\nseverity: {}\nstatus: {}\nat: {}\nhost: {}\ndetails: {}",
            self.title(),
            self.rule,
            self.severity.as_str(),
            self.status,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.host,
            self.details
        )
    }

    pub fn markdown(&self) -> String {
        format!(
            "### {}\n- rule: `{}`\n- severity: **{}**\n- status: {}\n- at: {}\n- host: {}",
            self.title(),
            self.rule,
            self.severity.as_str(),
            self.status,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.host
        )
    }
}

/// A rule as listed by `GET /alerts/rules`: name, severity, what it watches.
pub type RuleInfo = (&'static str, Severity, &'static str);

/// Rules a module evaluates itself (a shop's authorisation about to lapse, a provider
/// failing), registered with [`Alerting::add_source`]. Its findings go through the
/// same de-duplication, silences and routing as the kernel's own.
#[async_trait::async_trait]
pub trait AlertSource: Send + Sync {
    fn rules(&self) -> &'static [RuleInfo];
    async fn findings(&self, kernel: &Kernel) -> Vec<Finding>;
}

pub struct Alerting {
    pub channels: Channels,
    last_http: Mutex<Option<HttpTotals>>,
    sources: std::sync::RwLock<Vec<Arc<dyn AlertSource>>>,
    host: String,
}

impl Alerting {
    pub fn new(channels: Channels) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "shopops".into());
        Self {
            channels,
            last_http: Mutex::new(None),
            sources: Default::default(),
            host,
        }
    }

    pub fn add_source(&self, source: Arc<dyn AlertSource>) {
        self.sources
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(source);
    }

    fn sources(&self) -> Vec<Arc<dyn AlertSource>> {
        self.sources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every rule: the kernel's and the registered sources'.
    pub fn rules(&self) -> Vec<RuleInfo> {
        let mut all = rules::RULES.to_vec();
        for source in self.sources() {
            all.extend_from_slice(source.rules());
        }
        all
    }

    pub fn notice(
        &self,
        rule: &str,
        key: &str,
        severity: Severity,
        status: &str,
        message: &str,
        details: Value,
    ) -> Notice {
        Notice {
            rule: rule.into(),
            key: key.into(),
            severity,
            status: status.into(),
            message: message.into(),
            details,
            at: Utc::now(),
            host: self.host.clone(),
        }
    }

    /// One evaluation: every rule, then the notices it calls for.
    pub async fn evaluate(&self, kernel: &Kernel) -> Result<usize, String> {
        let mut findings = {
            let mut last = self.last_http.lock().await;
            rules::evaluate(kernel, &mut last).await
        };
        for source in self.sources() {
            findings.extend(source.findings(kernel).await);
        }
        let now = Utc::now();
        let silenced: Vec<String> = alert_silence::Entity::find()
            .filter(alert_silence::Column::Until.gt(now))
            .all(&kernel.db)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| s.rule)
            .collect();
        let mut sent = 0;
        for finding in findings {
            if silenced.iter().any(|r| r == finding.rule) {
                continue;
            }
            if let Some(status) = self
                .transition(kernel, &finding)
                .await
                .map_err(|e| e.to_string())?
            {
                let notice = self.notice(
                    finding.rule,
                    &finding.key,
                    finding.severity,
                    status,
                    &finding.message,
                    finding.details.clone(),
                );
                self.deliver(kernel, &notice, &channels::route(finding.severity))
                    .await;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Moves the fault's state and says which notice (if any) this replica must send.
    async fn transition(
        &self,
        kernel: &Kernel,
        f: &Finding,
    ) -> Result<Option<&'static str>, sea_orm::DbErr> {
        let db = &kernel.db;
        let now = Utc::now();
        if !f.firing {
            let resolved = alert_state::Entity::update_many()
                .col_expr(alert_state::Column::Status, Expr::value("resolved"))
                .col_expr(alert_state::Column::ResolvedAt, Expr::value(now))
                .col_expr(alert_state::Column::Message, Expr::value(f.message.clone()))
                .filter(alert_state::Column::Key.eq(&f.key))
                .filter(alert_state::Column::Status.eq("firing"))
                .exec(db)
                .await?;
            return Ok((resolved.rows_affected == 1).then_some("resolved"));
        }
        let inserted = alert_state::Entity::insert(alert_state::ActiveModel {
            key: Set(f.key.clone()),
            rule: Set(f.rule.to_string()),
            severity: Set(f.severity.as_str().into()),
            status: Set("firing".into()),
            message: Set(f.message.clone()),
            first_seen_at: Set(now),
            last_notified_at: Set(now),
            resolved_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(alert_state::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if inserted == 1 {
            return Ok(Some("firing"));
        }
        let refired = alert_state::Entity::update_many()
            .col_expr(alert_state::Column::Status, Expr::value("firing"))
            .col_expr(alert_state::Column::FirstSeenAt, Expr::value(now))
            .col_expr(alert_state::Column::LastNotifiedAt, Expr::value(now))
            .col_expr(
                alert_state::Column::ResolvedAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .col_expr(alert_state::Column::Message, Expr::value(f.message.clone()))
            .filter(alert_state::Column::Key.eq(&f.key))
            .filter(alert_state::Column::Status.eq("resolved"))
            .exec(db)
            .await?;
        if refired.rows_affected == 1 {
            return Ok(Some("firing"));
        }
        let cutoff = now - chrono::Duration::seconds(kernel.config.alert_cooldown_secs as i64);
        let repeated = alert_state::Entity::update_many()
            .col_expr(alert_state::Column::LastNotifiedAt, Expr::value(now))
            .col_expr(alert_state::Column::Message, Expr::value(f.message.clone()))
            .filter(alert_state::Column::Key.eq(&f.key))
            .filter(alert_state::Column::Status.eq("firing"))
            .filter(alert_state::Column::LastNotifiedAt.lt(cutoff))
            .exec(db)
            .await?;
        Ok((repeated.rows_affected == 1).then_some("repeat"))
    }

    /// Sends to every configured channel of `route`, records the event, counts
    /// deliveries. Returns channel → `sent` or the error.
    pub async fn deliver(
        &self,
        kernel: &Kernel,
        notice: &Notice,
        route: &[&str],
    ) -> BTreeMap<String, String> {
        let targets: Vec<&str> = route
            .iter()
            .copied()
            .filter(|c| self.channels.is_configured(c))
            .collect();
        let sends = targets.iter().map(|c| self.channels.send(c, notice));
        let results = futures_util::future::join_all(sends).await;
        let mut deliveries = BTreeMap::new();
        for (&channel, result) in targets.iter().zip(results) {
            let outcome = match &result {
                Ok(()) => "sent".to_string(),
                Err(e) => {
                    tracing::warn!(channel, error = %e, alert = %notice.key, "alert delivery failed");
                    e.clone()
                }
            };
            kernel
                .metrics
                .alert_notifications
                .with_label_values(&[channel, if result.is_ok() { "sent" } else { "failed" }])
                .inc();
            deliveries.insert(channel.to_string(), outcome);
        }
        tracing::warn!(alert = %notice.key, status = %notice.status, severity = notice.severity.as_str(), message = %notice.message, "alert");
        let event = alert_event::ActiveModel {
            rule: Set(notice.rule.clone()),
            key: Set(notice.key.clone()),
            severity: Set(notice.severity.as_str().into()),
            status: Set(notice.status.clone()),
            message: Set(notice.message.clone()),
            details: Set(notice.details.clone()),
            deliveries: Set(json!(deliveries)),
            created_at: Set(notice.at),
            ..Default::default()
        };
        if let Err(e) = event.insert(&kernel.db).await {
            tracing::error!(error = %e, "alert history not written");
        }
        deliveries
    }
}

/// The alerting engine of a kernel, built from its configuration.
pub fn build(
    config: &crate::config::Config,
    outside: Arc<crate::outside::OutsideCalls>,
) -> Result<Alerting, String> {
    Ok(Alerting::new(Channels::from_config(config, outside)?))
}
