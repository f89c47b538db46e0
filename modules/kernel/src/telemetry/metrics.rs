//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One registry per [`Kernel`](crate::Kernel) (not a process global), so tests that
//! build several kernels do not mix their counts.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sea_orm::DatabaseConnection;

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub outside_calls: IntCounterVec,
    pub outside_duration: HistogramVec,
    pub circuit_state: IntGaugeVec,
    pub job_runs: IntCounterVec,
    pub rate_limited: IntCounterVec,
    pub alert_notifications: IntCounterVec,
    pub access_verifications: IntCounterVec,
    db_pool_size: IntGauge,
    db_pool_idle: IntGauge,
    db_pool_max: IntGauge,
}

/// Latency buckets from 5 ms to 30 s: API calls, outside calls and the modules' calls
/// share them.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Registers `collector` and returns it. Registration fails only on a duplicate name
/// (a second module instance on one kernel, in tests): that copy keeps counting,
/// unexported, rather than failing the start.
pub fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: T,
) -> T {
    let _ = registry.register(Box::new(collector.clone()));
    collector
}

/// A labelled counter on `registry`.
pub fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        registry,
        IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
    )
}

/// A labelled latency histogram (seconds, 5 ms … 30 s) on `registry`.
pub fn latency_histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> HistogramVec {
    register(
        registry,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
            labels,
        )
        .expect("valid metric"),
    )
}

/// A labelled gauge on `registry`.
pub fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        registry,
        IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
    )
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| counter_vec(&registry, name, help, labels);
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            latency_histogram_vec(&registry, name, help, labels)
        };
        let gauge = |name: &str, help: &str| {
            register(&registry, IntGauge::new(name, help).expect("valid metric"))
        };
        Self {
            http_requests: counter(
                "http_requests_total",
                "HTTP requests by method, route template and status",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                "http_request_duration_seconds",
                "HTTP request latency by method and route template",
                &["method", "route"],
            ),
            outside_calls: counter(
                "outside_calls_total",
                "Calls to outside systems by target and outcome",
                &["target", "outcome"],
            ),
            outside_duration: histogram(
                "outside_call_duration_seconds",
                "Latency of calls to outside systems",
                &["target"],
            ),
            circuit_state: gauge_vec(
                &registry,
                "circuit_state",
                "Circuit breaker state: 0 closed, 1 open, 2 half-open",
                &["target"],
            ),
            job_runs: counter(
                "job_runs_total",
                "Background job runs by job and outcome",
                &["job", "outcome"],
            ),
            rate_limited: counter(
                "rate_limited_total",
                "Requests refused by a rate limit, by limit kind",
                &["kind"],
            ),
            alert_notifications: counter(
                "alert_notifications_total",
                "Alert notices by channel and delivery outcome",
                &["channel", "outcome"],
            ),
            access_verifications: counter(
                "access_token_verifications_total",
                "Access-token signature checks by outcome (valid, expired, invalid): one per request that carries one",
                &["outcome"],
            ),
            db_pool_size: gauge("db_pool_connections", "Open database connections"),
            db_pool_idle: gauge("db_pool_idle_connections", "Idle database connections"),
            db_pool_max: gauge("db_pool_max_connections", "Database pool size limit"),
            registry,
        }
    }

    /// The registry, for exporters and tests.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one run of a background job (`ok` or `error`).
    pub fn job_run(&self, job: &str, ok: bool) {
        self.job_runs
            .with_label_values(&[job, if ok { "ok" } else { "error" }])
            .inc();
    }

    /// The text exposition, with pool gauges read at scrape time.
    pub fn render(&self, db: &DatabaseConnection, max_connections: u32) -> String {
        let (size, idle) = pool_stats(db);
        self.db_pool_size.set(size);
        self.db_pool_idle.set(idle);
        self.db_pool_max.set(max_connections.into());
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn pool_stats(db: &DatabaseConnection) -> (i64, i64) {
    match db {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (pool.size().into(), pool.num_idle() as i64)
        }
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size().into(), pool.num_idle() as i64)
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_with_labels() {
        let m = Metrics::new();
        m.http_requests
            .with_label_values(&["GET", "/api/v1/users/{id}", "200"])
            .inc();
        m.job_run("rbac_reload", true);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&m.registry.gather(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="200"} 1"#
        ));
        assert!(text.contains(r#"job_runs_total{job="rbac_reload",outcome="ok"} 1"#));
    }
}
