//! The bridge's Prometheus series, on the kernel's registry (so `/metrics` shows them):
//! per-method platform calls (seed 000's per-endpoint count, latency and errors), per-shop
//! order sync, token refreshes and message-push events.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

pub struct KuaishouMetrics {
    pub api_calls: IntCounterVec,
    pub api_duration: HistogramVec,
    pub sync_runs: IntCounterVec,
    pub sync_orders: IntCounterVec,
    pub sync_pages: IntCounterVec,
    pub sync_lag_seconds: IntGaugeVec,
    pub token_refreshes: IntCounterVec,
    pub push_events: IntCounterVec,
}

const BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl KuaishouMetrics {
    pub fn new(registry: &Registry) -> Self {
        // A name registered twice (a second bridge on one kernel) keeps counting
        // unexported rather than failing the start.
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
            api_calls: counter(
                "kuaishou_api_calls_total",
                "Kuaishou open-platform calls by method and outcome",
                &["method", "outcome"],
            ),
            api_duration: reg(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "kuaishou_api_call_duration_seconds",
                        "Kuaishou open-platform call latency by method (retries included)",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &["method"],
                )
                .expect("valid metric"),
            ),
            sync_runs: counter(
                "kuaishou_sync_runs_total",
                "Order-sync runs by shop and outcome",
                &["shop", "outcome"],
            ),
            sync_orders: counter(
                "kuaishou_sync_orders_total",
                "Orders read (seen) and stored (written) by order sync, by shop",
                &["shop", "kind"],
            ),
            sync_pages: counter(
                "kuaishou_sync_pages_total",
                "Order pages pulled by shop",
                &["shop"],
            ),
            sync_lag_seconds: reg(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "kuaishou_sync_lag_seconds",
                        "How far a shop's synced orders trail now, at its last run",
                    ),
                    &["shop"],
                )
                .expect("valid metric"),
            ),
            token_refreshes: counter(
                "kuaishou_token_refreshes_total",
                "Shop token refreshes at the platform by outcome",
                &["outcome"],
            ),
            push_events: counter(
                "kuaishou_push_events_total",
                "Message-push events by event name and outcome (stored, duplicate, handled, failed)",
                &["event", "outcome"],
            ),
        }
    }
}
