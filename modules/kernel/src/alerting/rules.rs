//! The alert rules, evaluated from this replica's metrics (the change since the last
//! evaluation), its probes and its outside-target statistics.

use prometheus::core::Collector;
use serde_json::json;

use super::Severity;
use crate::context::Kernel;
use crate::db;

/// What one rule says about one subject in this evaluation.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    /// The rule plus its subject (`outside_success_rate:<target>`): one alert each.
    pub key: String,
    pub severity: Severity,
    pub firing: bool,
    pub message: String,
    pub details: serde_json::Value,
}

/// Rule names, severities and what they watch (for `GET /alerts/rules`).
pub const RULES: &[super::RuleInfo] = &[
    ("api_error_rate", Severity::Critical, "share of 5xx answers above alert_error_rate"),
    ("api_p95_latency", Severity::Warning, "95th percentile latency above alert_p95_latency_ms"),
    ("database_down", Severity::Critical, "the database does not answer"),
    ("redis_down", Severity::Critical, "Redis (when configured) does not answer"),
    ("outside_success_rate", Severity::Warning, "an outside target succeeds less than alert_outside_success_rate over ≥ alert_outside_min_calls calls"),
    ("outside_latency", Severity::Warning, "an outside target's average latency above alert_outside_latency_ms"),
];

/// HTTP counters at one evaluation; the next evaluation looks at the difference.
#[derive(Debug, Clone, Default)]
pub struct HttpTotals {
    requests: u64,
    errors: u64,
    /// Cumulative histogram buckets summed over routes: (upper bound s, count).
    buckets: Vec<(f64, u64)>,
}

fn http_totals(kernel: &Kernel) -> HttpTotals {
    let mut totals = HttpTotals::default();
    for family in kernel.metrics.http_requests.collect() {
        for m in family.get_metric() {
            let n = m.get_counter().get_value() as u64;
            totals.requests += n;
            if m.get_label()
                .iter()
                .any(|l| l.name() == "status" && l.value().starts_with('5'))
            {
                totals.errors += n;
            }
        }
    }
    for family in kernel.metrics.http_duration.collect() {
        for m in family.get_metric() {
            for (i, b) in m.get_histogram().get_bucket().iter().enumerate() {
                if totals.buckets.len() <= i {
                    totals.buckets.push((b.upper_bound(), 0));
                }
                totals.buckets[i].1 += b.cumulative_count();
            }
        }
    }
    totals
}

/// The 95th percentile as the upper bound of the bucket that holds it (∞ past the last).
fn p95(now: &HttpTotals, before: &HttpTotals, count: u64) -> f64 {
    let target = (count as f64 * 0.95).ceil() as u64;
    for (i, (bound, cumulative)) in now.buckets.iter().enumerate() {
        let earlier = before.buckets.get(i).map(|b| b.1).unwrap_or(0);
        if cumulative.saturating_sub(earlier) >= target {
            return *bound;
        }
    }
    f64::INFINITY
}

pub async fn evaluate(kernel: &Kernel, last: &mut Option<HttpTotals>) -> Vec<Finding> {
    let c = &kernel.config;
    let mut findings = Vec::new();

    let now = http_totals(kernel);
    if let Some(before) = last.replace(now.clone()) {
        let requests = now.requests.saturating_sub(before.requests);
        let errors = now.errors.saturating_sub(before.errors);
        // Too little traffic says nothing either way.
        if requests >= c.alert_min_requests {
            let rate = errors as f64 / requests as f64;
            findings.push(Finding {
                rule: "api_error_rate",
                key: "api_error_rate".into(),
                severity: Severity::Critical,
                firing: rate > c.alert_error_rate,
                message: format!("API error rate {:.1}% ({errors} of {requests} requests)", rate * 100.0),
                details: json!({ "error_rate": rate, "requests": requests, "errors": errors, "threshold": c.alert_error_rate }),
            });
            let p95_s = p95(&now, &before, requests);
            let threshold_s = c.alert_p95_latency_ms as f64 / 1000.0;
            findings.push(Finding {
                rule: "api_p95_latency",
                key: "api_p95_latency".into(),
                severity: Severity::Warning,
                firing: p95_s > threshold_s,
                message: format!("API p95 latency ≤ {p95_s} s over {requests} requests"),
                details: json!({ "p95_upper_bound_seconds": p95_s, "threshold_ms": c.alert_p95_latency_ms }),
            });
        }
    }

    let db_result = db::ping(&kernel.db).await;
    findings.push(Finding {
        rule: "database_down",
        key: "database_down".into(),
        severity: Severity::Critical,
        firing: db_result.is_err(),
        message: match &db_result {
            Ok(()) => "database answers".into(),
            Err(e) => format!("database does not answer: {e}"),
        },
        details: json!({}),
    });
    if let Some(redis) = &kernel.cache.redis {
        let result = redis.ping().await;
        findings.push(Finding {
            rule: "redis_down",
            key: "redis_down".into(),
            severity: Severity::Critical,
            firing: result.is_err(),
            message: match &result {
                Ok(()) => "Redis answers".into(),
                Err(e) => format!("Redis does not answer: {e}"),
            },
            details: json!({}),
        });
    }

    for target in kernel.outside.statuses() {
        if !target.kernel_alerts || target.recent_calls < c.alert_outside_min_calls {
            continue;
        }
        if let Some(rate) = target.success_rate {
            findings.push(Finding {
                rule: "outside_success_rate",
                key: format!("outside_success_rate:{}", target.target),
                severity: Severity::Warning,
                firing: rate < c.alert_outside_success_rate,
                message: format!("{} succeeds {:.1}% of {} recent calls", target.target, rate * 100.0, target.recent_calls),
                details: json!({ "target": target.target, "success_rate": rate, "calls": target.recent_calls, "circuit": target.state }),
            });
        }
        if let Some(ms) = target.average_latency_ms {
            findings.push(Finding {
                rule: "outside_latency",
                key: format!("outside_latency:{}", target.target),
                severity: Severity::Warning,
                firing: ms > c.alert_outside_latency_ms as f64,
                message: format!("{} answers in {ms:.0} ms on average", target.target),
                details: json!({ "target": target.target, "average_latency_ms": ms, "threshold_ms": c.alert_outside_latency_ms }),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_read_from_the_bucket_deltas() {
        let before = HttpTotals {
            requests: 0,
            errors: 0,
            buckets: vec![(0.1, 50), (1.0, 100), (2.5, 100)],
        };
        // 100 new requests: 90 under 0.1 s, 10 between 1 and 2.5 s → p95 in the 2.5 s bucket.
        let now = HttpTotals {
            requests: 100,
            errors: 0,
            buckets: vec![(0.1, 140), (1.0, 190), (2.5, 200)],
        };
        assert_eq!(p95(&now, &before, 100), 2.5);
        let fast = HttpTotals {
            requests: 100,
            errors: 0,
            buckets: vec![(0.1, 150), (1.0, 200), (2.5, 200)],
        };
        assert_eq!(p95(&fast, &before, 100), 0.1);
    }
}
