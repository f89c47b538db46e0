//! The outside-call toolkit against a local provider that answers from a script:
//! retries, Retry-After, the circuit breaker and metrics.

// A failed unwrap is a failed test here.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shopops_kernel::outside::{
    BreakerConfig, CircuitState, OutsideCalls, OutsideError, Repeat, RetryPolicy, TargetConfig,
};
use shopops_kernel::telemetry::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Status and headers of each answer, in order.
type Script = Vec<(u16, Vec<(&'static str, &'static str)>)>;

/// A provider stand-in: each request gets the next scripted answer (the last repeats).
struct FakeProvider {
    url: String,
    hits: Arc<AtomicUsize>,
    script: Arc<Mutex<Script>>,
}

impl FakeProvider {
    async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(Mutex::new(script));
        let (h, s) = (hits.clone(), script.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let n = h.fetch_add(1, Ordering::SeqCst);
                let (status, headers) = {
                    let script = s.lock().unwrap();
                    script[n.min(script.len() - 1)].clone()
                };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let _ = sock.read(&mut buf).await;
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n"
                    );
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n{}");
                    let _ = sock.write_all(head.as_bytes()).await;
                });
            }
        });
        Self { url, hits, script }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn answer_from_now(&self, status: u16) {
        let n = self.hits();
        let mut script = self.script.lock().unwrap();
        let keep = n.min(script.len());
        script.truncate(keep);
        // Entries before `n` were already served; the next request reads index `n`.
        script.resize(n + 1, (status, vec![]));
    }
}

fn config(retries: usize, threshold: u32, open_ms: u64) -> TargetConfig {
    TargetConfig {
        timeout: Duration::from_secs(5),
        max_connections: 10,
        max_idle: 2,
        idle_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries: retries,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
        },
        breaker: BreakerConfig {
            failure_threshold: threshold,
            failure_rate: 1.0,
            window: 100,
            open_for: Duration::from_millis(open_ms),
            half_open_max_calls: 1,
            half_open_timeout: Duration::from_secs(5),
        },
        kernel_alerts: true,
    }
}

fn calls() -> (OutsideCalls, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    (
        OutsideCalls::new(config(3, 100, 1000), metrics.clone()),
        metrics,
    )
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_only_for_safe_requests() {
    let provider = FakeProvider::start(vec![(503, vec![])]).await;
    let (outside, _) = calls();
    let target = outside.target("flaky").unwrap();

    let get = target.client().get(&provider.url).build().unwrap();
    let res = target.send(get, Repeat::IfSafe).await.unwrap();
    assert_eq!(
        res.status(),
        503,
        "the last answer comes back after the retries"
    );
    assert_eq!(provider.hits(), 4, "one call and three retries");

    let post = target
        .client()
        .post(&provider.url)
        .body("x")
        .build()
        .unwrap();
    target.send(post, Repeat::IfSafe).await.unwrap();
    assert_eq!(provider.hits(), 5, "POST is not repeated");

    let post = target
        .client()
        .post(&provider.url)
        .body("x")
        .build()
        .unwrap();
    target.send(post, Repeat::Always).await.unwrap();
    assert_eq!(provider.hits(), 9, "unless the caller declares it safe");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let provider =
        FakeProvider::start(vec![(429, vec![("Retry-After", "1")]), (200, vec![])]).await;
    let (outside, _) = calls();
    let target = outside.target("throttled").unwrap();
    let started = Instant::now();
    let res = target
        .send(
            target.client().get(&provider.url).build().unwrap(),
            Repeat::IfSafe,
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(provider.hits(), 2);
    // Our own backoff would have waited about 10 ms; the provider asked for 1 s.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_outage_opens_the_breaker_then_a_trial_closes_it() {
    let provider = FakeProvider::start(vec![(500, vec![])]).await;
    let metrics = Arc::new(Metrics::new());
    let outside = OutsideCalls::new(config(0, 3, 300), metrics.clone());
    let target = outside.target("provider").unwrap();
    let get = || target.client().get(&provider.url).build().unwrap();

    for _ in 0..3 {
        assert_eq!(
            target.send(get(), Repeat::IfSafe).await.unwrap().status(),
            500
        );
    }
    assert_eq!(target.breaker().state(), CircuitState::Open);
    let hits = provider.hits();
    let started = Instant::now();
    for _ in 0..5 {
        let err = target.send(get(), Repeat::IfSafe).await.unwrap_err();
        assert!(matches!(err, OutsideError::CircuitOpen { .. }), "{err}");
    }
    assert_eq!(
        provider.hits(),
        hits,
        "no call reaches the provider while open"
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "open circuit fails fast"
    );

    provider.answer_from_now(200);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        target.send(get(), Repeat::IfSafe).await.unwrap().status(),
        200
    );
    assert_eq!(target.breaker().state(), CircuitState::Closed);

    let status = &outside.statuses()[0];
    assert_eq!(status.target, "provider");
    assert_eq!(status.state, CircuitState::Closed);
    assert_eq!(status.recent_calls, 4);
    assert_eq!(status.success_rate, Some(0.25));
    assert!(status.average_latency_ms.is_some());

    let mut text = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &prometheus_gather(&metrics),
        &mut text,
    )
    .ok();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(r#"outside_calls_total{outcome="rejected",target="provider"} 5"#),
        "{text}"
    );
    assert!(text.contains(r#"outside_calls_total{outcome="server_error",target="provider"} 3"#));
    assert!(text.contains(r#"circuit_state{target="provider"} 0"#));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_network_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (outside, _) = calls();
    let target = outside.target("down").unwrap();
    let req = target
        .client()
        .post(format!("http://127.0.0.1:{port}/x"))
        .build()
        .unwrap();
    let err = target.send(req, Repeat::Never).await.unwrap_err();
    assert!(matches!(err, OutsideError::Network { .. }), "{err}");
}

fn prometheus_gather(metrics: &Metrics) -> Vec<prometheus::proto::MetricFamily> {
    metrics.registry().gather()
}
