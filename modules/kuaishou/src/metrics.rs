//! The bridge's Prometheus series, on the kernel's registry (so `/metrics` shows them):
//! per-method platform calls (count by outcome, latency), per-shop order sync, token
//! refreshes and message-push events.

use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Registry};
use shopops_kernel::telemetry::metrics::{counter_vec, gauge_vec, latency_histogram_vec};

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

impl KuaishouMetrics {
    pub fn new(registry: &Registry) -> Self {
        Self {
            api_calls: counter_vec(
                registry,
                "kuaishou_api_calls_total",
                "Kuaishou open-platform calls by method and outcome",
                &["method", "outcome"],
            ),
            api_duration: latency_histogram_vec(
                registry,
                "kuaishou_api_call_duration_seconds",
                "Kuaishou open-platform call latency by method (retries included)",
                &["method"],
            ),
            sync_runs: counter_vec(
                registry,
                "kuaishou_sync_runs_total",
                "Order-sync runs by shop and outcome",
                &["shop", "outcome"],
            ),
            sync_orders: counter_vec(
                registry,
                "kuaishou_sync_orders_total",
                "Orders read (seen) and stored (written) by order sync, by shop",
                &["shop", "kind"],
            ),
            sync_pages: counter_vec(
                registry,
                "kuaishou_sync_pages_total",
                "Order pages pulled by shop",
                &["shop"],
            ),
            sync_lag_seconds: gauge_vec(
                registry,
                "kuaishou_sync_lag_seconds",
                "How far a shop's synced orders trail now, at its last run",
                &["shop"],
            ),
            token_refreshes: counter_vec(
                registry,
                "kuaishou_token_refreshes_total",
                "Shop token refreshes at the platform by outcome",
                &["outcome"],
            ),
            push_events: counter_vec(
                registry,
                "kuaishou_push_events_total",
                "Message-push events by event name and outcome (stored, duplicate, unowned, handled, retry, failed)",
                &["event", "outcome"],
            ),
        }
    }
}
