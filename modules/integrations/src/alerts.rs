//! Provider alerts, through the kernel's alerting (one notice per fault,
//! silences, routing): a provider whose success rate over its recent calls (at least
//! `alert_outside_min_calls`) is below `alert_outside_success_rate`, or whose average
//! latency is above `alert_outside_latency_ms` (defaults 10 calls, 90 %, 5 s).

use std::sync::Arc;

use serde_json::json;
use shopops_kernel::alerting::{AlertSource, Finding, RuleInfo, Severity};
use shopops_kernel::Kernel;

use crate::manager::Manager;

const SUCCESS: &str = "integration_provider_success_rate";
const LATENCY: &str = "integration_provider_latency";

const RULES: &[RuleInfo] = &[
    (SUCCESS, Severity::Warning, "a payment, SMS, storage or captcha provider succeeds less than alert_outside_success_rate over ≥ alert_outside_min_calls recent calls"),
    (LATENCY, Severity::Warning, "a provider's average latency over its recent calls is above alert_outside_latency_ms"),
];

pub struct ProviderAlerts {
    manager: Arc<Manager>,
}

impl ProviderAlerts {
    pub fn new(manager: Arc<Manager>) -> Self {
        Self { manager }
    }
}

#[async_trait::async_trait]
impl AlertSource for ProviderAlerts {
    fn rules(&self) -> &'static [RuleInfo] {
        RULES
    }

    async fn findings(&self, kernel: &Kernel) -> Vec<Finding> {
        let c = &kernel.config;
        let mut out = Vec::new();
        for p in self.manager.status() {
            if p.recent_calls < c.alert_outside_min_calls {
                continue;
            }
            let path = format!("{}.{}", p.capability.as_str(), p.name);
            let details = json!({ "provider": path, "success_rate": p.success_rate, "calls": p.recent_calls, "average_latency_ms": p.average_latency_ms, "circuit": p.circuit });
            if let Some(rate) = p.success_rate {
                out.push(Finding {
                    rule: SUCCESS,
                    key: format!("{SUCCESS}:{path}"),
                    severity: Severity::Warning,
                    firing: rate < c.alert_outside_success_rate,
                    message: format!(
                        "{path} succeeds {:.1}% of {} recent calls",
                        rate * 100.0,
                        p.recent_calls
                    ),
                    details: details.clone(),
                });
            }
            if let Some(ms) = p.average_latency_ms {
                out.push(Finding {
                    rule: LATENCY,
                    key: format!("{LATENCY}:{path}"),
                    severity: Severity::Warning,
                    firing: ms > c.alert_outside_latency_ms as f64,
                    message: format!("{path} answers in {ms:.0} ms on average"),
                    details,
                });
            }
        }
        out
    }
}
