//! The module's Prometheus series, on the kernel's registry.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

pub struct IntegrationMetrics {
    pub calls: IntCounterVec,
    pub duration: HistogramVec,
    pub failovers: IntCounterVec,
    pub sms: IntCounterVec,
    pub callbacks: IntCounterVec,
}

const BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl IntegrationMetrics {
    pub fn new(registry: &Registry) -> Self {
        // A second manager on one kernel (tests) counts on, unexported.
        fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
            let _ = r.register(Box::new(c.clone()));
            c
        }
        let counter = |name: &str, help: &str, labels: &[&str]| {
            reg(
                registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        Self {
            calls: counter(
                "integration_calls_total",
                "Provider calls by capability, provider and outcome (ok, rejected, unavailable, ambiguous, circuit_open)",
                &["capability", "provider", "outcome"],
            ),
            duration: reg(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "integration_call_duration_seconds",
                        "Provider call latency by capability and provider",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &["capability", "provider"],
                )
                .expect("valid metric"),
            ),
            failovers: counter(
                "integration_failovers_total",
                "Calls that moved on to a lower-priority provider, by capability",
                &["capability"],
            ),
            sms: counter(
                "integration_sms_total",
                "SMS delivery attempts by outcome (sent, retry, rejected, dead, unknown)",
                &["outcome"],
            ),
            callbacks: counter(
                "integration_callbacks_total",
                "Provider notifications by provider and outcome (applied, duplicate, refused)",
                &["provider", "outcome"],
            ),
        }
    }
}
