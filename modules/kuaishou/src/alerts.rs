//! Alerts about shops' authorisations, evaluated with the kernel's alert rules (same
//! de-duplication, silences and channels): a refresh token that expires within
//! `refresh_alert_days` (the seller must authorise the shop again before then, or
//! every call for it fails), and a refresh the platform refused.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use shopops_kernel::alerting::{AlertSource, Finding, RuleInfo, Severity};
use shopops_kernel::Kernel;

use crate::platform::Platform;
use crate::service::shops::ShopStatus;
use crate::store::across_tenants;

const EXPIRING: &str = "kuaishou_refresh_token_expiring";
const FAILED: &str = "kuaishou_refresh_failed";

const RULES: &[RuleInfo] = &[
    (EXPIRING, Severity::Warning, "a Kuaishou shop's refresh token expires within kuaishou.refresh_alert_days: the seller must authorise the shop again"),
    (FAILED, Severity::Critical, "the platform refused a Kuaishou shop's token refresh: calls for the shop fail until it is authorised again"),
];

pub struct ShopTokenAlerts {
    platform: Arc<Platform>,
}

impl ShopTokenAlerts {
    pub fn new(platform: Arc<Platform>) -> Self {
        Self { platform }
    }
}

#[async_trait::async_trait]
impl AlertSource for ShopTokenAlerts {
    fn rules(&self) -> &'static [RuleInfo] {
        RULES
    }

    async fn findings(&self, kernel: &Kernel) -> Vec<Finding> {
        let shops = match across_tenants::all_shops(&kernel.db).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Kuaishou shop alerts not evaluated");
                return vec![];
            }
        };
        let horizon = Utc::now() + Duration::days(self.platform.config.refresh_alert_days);
        let mut findings = Vec::with_capacity(shops.len() * 2);
        for s in shops {
            let live = s.status != ShopStatus::Revoked;
            let details = json!({ "shop_id": s.id, "tenant_id": s.tenant_id, "open_id": s.open_id, "refresh_expires_at": s.refresh_expires_at });
            let expiring = live && s.refresh_expires_at.is_some_and(|t| t < horizon);
            findings.push(Finding {
                rule: EXPIRING,
                key: format!("{EXPIRING}:{}", s.id),
                severity: Severity::Warning,
                firing: expiring,
                message: match s.refresh_expires_at {
                    Some(t) if expiring => format!(
                        "Kuaishou shop {} (tenant {}) must be authorised again before {}",
                        s.id,
                        s.tenant_id,
                        t.format("%Y-%m-%d %H:%M UTC")
                    ),
                    _ => format!("Kuaishou shop {} authorisation is current", s.id),
                },
                details: details.clone(),
            });
            let failed = s.status == ShopStatus::RefreshFailed;
            findings.push(Finding {
                rule: FAILED,
                key: format!("{FAILED}:{}", s.id),
                severity: Severity::Critical,
                firing: failed,
                message: if failed {
                    format!("Kuaishou shop {} (tenant {}): the platform refused the token refresh; authorise the shop again", s.id, s.tenant_id)
                } else {
                    format!("Kuaishou shop {} tokens refresh", s.id)
                },
                details,
            });
        }
        findings
    }
}
