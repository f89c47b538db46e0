//! The alert for a failing LLM provider, through the kernel's alerting (one notice per
//! fault, silences, channels, routing).
//!
//! Why not the kernel's `outside_success_rate` rule on the `cs-llm:*` targets: it counts
//! HTTP outcomes only (429, 5xx, timeouts, network errors). A wrong key (401), an unknown
//! model (404), every ERNIE error (answered with HTTP 200 and an `error_code`) and empty
//! answers all count as successes there, so a provider that never produces a reply would
//! never alert. Its `outside_latency` rule (5 s by default) would also fire for models
//! that routinely take that long. So the targets are created with `kernel_alerts: false`
//! and this rule judges the replies themselves, with the same thresholds
//! (`alert_outside_success_rate` over at least `alert_outside_min_calls` recent calls).
//! Slowness shows up here as timeouts (`timeout_secs`), which are failures.

use std::sync::Arc;

use serde_json::json;
use shopops_kernel::alerting::{AlertSource, Finding, RuleInfo, Severity};
use shopops_kernel::outside::TargetStatus;
use shopops_kernel::Kernel;

use super::Llm;

pub const SUCCESS_RATE: &str = "cs_llm_success_rate";

const RULES: &[RuleInfo] = &[(
    SUCCESS_RATE,
    Severity::Warning,
    "an LLM provider (cs.llm.providers) gives a usable reply for less than alert_outside_success_rate of ≥ alert_outside_min_calls recent messages",
)];

/// Register with `kernel.alerting.add_source(Arc::new(LlmAlerts::new(llm.clone())))`.
pub struct LlmAlerts {
    llm: Arc<Llm>,
}

impl LlmAlerts {
    pub fn new(llm: Arc<Llm>) -> Self {
        Self { llm }
    }
}

#[async_trait::async_trait]
impl AlertSource for LlmAlerts {
    fn rules(&self) -> &'static [RuleInfo] {
        RULES
    }

    async fn findings(&self, kernel: &Kernel) -> Vec<Finding> {
        let c = &kernel.config;
        findings(
            &self.llm.statuses(),
            c.alert_outside_min_calls,
            c.alert_outside_success_rate,
        )
    }
}

/// One finding per provider with enough recent calls: firing below `threshold`.
pub fn findings(statuses: &[TargetStatus], min_calls: usize, threshold: f64) -> Vec<Finding> {
    statuses
        .iter()
        .filter(|s| s.recent_calls >= min_calls)
        .filter_map(|s| {
            let rate = s.success_rate?;
            Some(Finding {
                rule: SUCCESS_RATE,
                key: format!("{SUCCESS_RATE}:{}", s.target),
                severity: Severity::Warning,
                firing: rate < threshold,
                message: format!(
                    "LLM provider {} gave a reply for {:.1}% of {} recent messages",
                    s.target,
                    rate * 100.0,
                    s.recent_calls
                ),
                details: json!({ "provider": s.target, "success_rate": rate, "calls": s.recent_calls,
                    "average_latency_ms": s.average_latency_ms, "circuit": s.state }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_kernel::outside::{CallStats, CircuitState};
    use std::time::Duration;

    fn status(name: &str, ok: usize, failed: usize) -> TargetStatus {
        let mut stats = CallStats::default();
        for i in 0..ok + failed {
            stats.push(Duration::from_millis(800), i < ok);
        }
        stats.status(name, CircuitState::Closed, 0)
    }

    #[test]
    fn a_provider_fires_below_the_rate_once_it_has_enough_calls() {
        let all = [
            status("qwen", 2, 8),
            status("wenxin", 10, 0),
            status("local", 0, 3),
        ];
        let found = findings(&all, 10, 0.9);
        assert_eq!(found.len(), 2, "`local` has too few calls");
        assert!(found[0].firing && found[0].key == "cs_llm_success_rate:qwen");
        assert!(!found[1].firing && found[1].key == "cs_llm_success_rate:wenxin");
        assert_eq!(found[0].details["calls"], 10);
    }
}
