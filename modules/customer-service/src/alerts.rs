//! Alerts of the module, evaluated with the kernel's alert rules (same de-duplication,
//! silences and channels): a desktop agent that stopped sending heartbeats for
//! `cs.agent_offline_secs` (2 minutes) — its shops' replies are not being typed.

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;
use serde_json::json;
use shopops_kernel::alerting::{AlertSource, Finding, RuleInfo, Severity};
use shopops_kernel::Kernel;

use crate::entities::agent;

const OFFLINE: &str = "cs_agent_offline";

const RULES: &[RuleInfo] = &[(
    OFFLINE,
    Severity::Warning,
    "a desktop agent sent no heartbeat for cs.agent_offline_secs: the replies of its shops are not typed",
)];

pub struct AgentAlerts {
    offline_after: Duration,
}

impl AgentAlerts {
    pub fn new(offline_after_secs: u64) -> Self {
        Self {
            offline_after: Duration::seconds(offline_after_secs as i64),
        }
    }
}

#[async_trait::async_trait]
impl AlertSource for AgentAlerts {
    fn rules(&self) -> &'static [RuleInfo] {
        RULES
    }

    async fn findings(&self, kernel: &Kernel) -> Vec<Finding> {
        let agents = match agent::Entity::find().all(&kernel.db).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "desktop-agent alerts not evaluated");
                return vec![];
            }
        };
        let horizon = Utc::now() - self.offline_after;
        agents
            .into_iter()
            .map(|a| {
                let offline = a.last_seen < horizon;
                Finding {
                    rule: OFFLINE,
                    key: format!("{OFFLINE}:{}", a.id),
                    severity: Severity::Warning,
                    firing: offline,
                    message: if offline {
                        format!(
                            "desktop agent {} (tenant {}, user {}) silent since {}",
                            a.host,
                            a.tenant_id,
                            a.user_id,
                            a.last_seen.format("%Y-%m-%d %H:%M:%S UTC")
                        )
                    } else {
                        format!("desktop agent {} is online", a.host)
                    },
                    details: json!({ "agent_id": a.id, "tenant_id": a.tenant_id, "host": a.host, "last_seen": a.last_seen }),
                }
            })
            .collect()
    }
}
