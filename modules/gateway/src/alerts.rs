//! Alerts of the module, evaluated with the kernel's alert rules (same de-duplication,
//! silences and channels): an account the platform refused (critical: calls stop
//! until a person sets a new password), and a platform whose keepalive failed more
//! than `max_retries` times in a row.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use shopops_kernel::alerting::{AlertSource, Finding, RuleInfo, Severity};
use shopops_kernel::Kernel;

use crate::entities::{account, platform};
use crate::service::platforms::settings_of;

const REFUSED: &str = "gateway_account_refused";
const KEEPALIVE: &str = "gateway_keepalive_failing";

const RULES: &[RuleInfo] = &[
    (
        REFUSED,
        Severity::Critical,
        "a platform refused an account's credentials: it is not used again until its password is replaced",
    ),
    (
        KEEPALIVE,
        Severity::Warning,
        "a platform's keepalive failed more than its max_retries times in a row",
    ),
];

pub struct GatewayAlerts;

#[async_trait::async_trait]
impl AlertSource for GatewayAlerts {
    fn rules(&self) -> &'static [RuleInfo] {
        RULES
    }

    async fn findings(&self, kernel: &Kernel) -> Vec<Finding> {
        let accounts = account::Entity::find()
            .filter(account::Column::State.eq("auth_failed"))
            .all(&kernel.db)
            .await;
        let platforms = platform::Entity::find()
            .filter(platform::Column::Enabled.eq(true))
            .all(&kernel.db)
            .await;
        let (Ok(accounts), Ok(platforms)) = (accounts, platforms) else {
            tracing::warn!("gateway alerts not evaluated: database unavailable");
            return vec![];
        };
        let mut findings: Vec<Finding> = accounts
            .into_iter()
            .map(|a| Finding {
                rule: REFUSED,
                key: format!("{REFUSED}:{}", a.id),
                severity: Severity::Critical,
                firing: true,
                message: format!("platform {} (tenant {}) refused account {}: {}", a.platform_id, a.tenant_id, a.id, a.last_error.as_deref().unwrap_or("login refused")),
                details: json!({ "tenant_id": a.tenant_id, "platform_id": a.platform_id, "account_id": a.id }),
            })
            .collect();
        for p in platforms {
            let Ok(settings) = settings_of(&p.settings) else {
                continue;
            };
            let firing = p.keepalive_failures > settings.max_retries as i32;
            findings.push(Finding {
                rule: KEEPALIVE,
                key: format!("{KEEPALIVE}:{}", p.id),
                severity: Severity::Warning,
                firing,
                message: if firing {
                    format!("platform {} (tenant {}): keepalive failed {} times in a row: {}", p.name, p.tenant_id, p.keepalive_failures, p.last_error.as_deref().unwrap_or("-"))
                } else {
                    format!("platform {} keepalive works", p.name)
                },
                details: json!({ "tenant_id": p.tenant_id, "platform_id": p.id, "failures": p.keepalive_failures }),
            });
        }
        findings
    }
}
