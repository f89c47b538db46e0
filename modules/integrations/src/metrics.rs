//! The module's Prometheus series, on the kernel's registry.

use prometheus::{HistogramVec, IntCounterVec, Registry};
use shopops_kernel::telemetry::metrics::{counter_vec, latency_histogram_vec};

pub struct IntegrationMetrics {
    pub calls: IntCounterVec,
    pub duration: HistogramVec,
    pub failovers: IntCounterVec,
    pub sms: IntCounterVec,
    pub sms_reports: IntCounterVec,
    pub callbacks: IntCounterVec,
}

impl IntegrationMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            calls: counter_vec(
                registry,
                "integration_calls_total",
                "Provider calls by capability, provider and outcome (ok, rejected, unavailable, ambiguous, circuit_open)",
                &["capability", "provider", "outcome"],
            ),
            duration: latency_histogram_vec(
                registry,
                "integration_call_duration_seconds",
                "Provider call latency by capability and provider",
                &["capability", "provider"],
            ),
            failovers: counter_vec(
                registry,
                "integration_failovers_total",
                "Calls that moved on to a lower-priority provider, by capability",
                &["capability"],
            ),
            sms: counter_vec(
                registry,
                "integration_sms_total",
                "SMS delivery attempts by outcome (sent, retry, rejected, dead, unknown)",
                &["outcome"],
            ),
            sms_reports: counter_vec(
                registry,
                "integration_sms_reports_total",
                "SMS delivery-report checks by provider and outcome (delivered, failed, none yet, error)",
                &["provider", "outcome"],
            ),
            callbacks: counter_vec(
                registry,
                "integration_callbacks_total",
                "Provider notifications by provider and outcome (applied, duplicate, refused)",
                &["provider", "outcome"],
            ),
        }
    }
}
