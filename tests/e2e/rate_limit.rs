//! Rate limits: anonymous per IP (100/hour by default), shared across replicas
//! through Redis; probes and metrics never limited; switchable off.

use reqwest::Method;

use crate::support::{free_port, start_redis, Server, Store};

async fn anonymous_calls(servers: &[&Server], n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for i in 0..n {
        let server = servers[i % servers.len()];
        statuses.push(
            server
                .call(Method::GET, "/api/v1/me", None, None)
                .await
                .status
                .as_u16(),
        );
    }
    statuses
}

#[tokio::test]
async fn anonymous_calls_are_refused_after_the_hundredth() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let statuses = anonymous_calls(&[&server], 110).await;
    assert!(statuses[..100].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[100..].iter().all(|s| *s == 429), "{statuses:?}");

    let r = server.call(Method::GET, "/api/v1/me", None, None).await;
    let d = r.assert_error(429, "RATE_LIMIT_EXCEEDED");
    let retry = d["retry_after"].as_u64().unwrap();
    assert!((1..=3600).contains(&retry));
    assert_eq!(r.header("retry-after"), Some(retry.to_string().as_str()));
    assert_eq!(d["limit"], 100);

    // Probes and metrics are never limited; an authenticated user has its own budget.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let s = server
            .http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, 200, "{path}");
    }
    let text = server.metrics().await;
    assert!(
        text.contains(r#"rate_limited_total{kind="anonymous"} 11"#),
        "{text}"
    );
}

#[tokio::test]
async fn two_processes_sharing_redis_share_the_limit() {
    let port = free_port();
    let _redis = start_redis(port);
    let url = format!("redis://127.0.0.1:{port}");
    let store = Store::new().await;
    let a = Server::start_with(&store, &[("REDIS_URL", &url)]).await;
    let b = Server::start_with(&store, &[("REDIS_URL", &url)]).await;
    let statuses = anonymous_calls(&[&a, &b], 110).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        100,
        "{statuses:?}"
    );
    assert!(statuses[100..].iter().all(|s| *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn limits_can_be_switched_off() {
    let store = Store::new().await;
    let server = Server::start_with(&store, &[("SHOPOPS_RATE_LIMIT_ENABLED", "false")]).await;
    let statuses = anonymous_calls(&[&server], 110).await;
    assert!(statuses.iter().all(|s| *s == 401));
}

#[tokio::test]
async fn reading_the_api_docs_never_blocks_signing_in() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    // Page loads far past the anonymous allowance: the page, its assets, the spec.
    for _ in 0..40 {
        for path in [
            "/docs/",
            "/docs/swagger-ui.css",
            "/openapi.json",
            "/docs/errors",
        ] {
            let s = server
                .http
                .get(format!("{}{path}", server.base))
                .send()
                .await
                .unwrap()
                .status();
            assert_ne!(s, 429, "{path}");
        }
    }
    // Other anonymous calls spend their own allowance; sign-in still answers.
    let statuses = anonymous_calls(&[&server], 101).await;
    assert_eq!(statuses[100], 429);
    assert_eq!(
        server
            .login(
                None,
                crate::support::ROOT_USER,
                crate::support::ROOT_PASSWORD
            )
            .await
            .status,
        200
    );
    // Sign-in has its own allowance, per IP.
    let mut last = 0;
    for _ in 0..100 {
        last = server
            .login(None, "nobody", "wrong-password")
            .await
            .status
            .as_u16();
    }
    assert_eq!(last, 429);
    let text = server.metrics().await;
    assert!(
        text.contains(r#"rate_limited_total{kind="login"} 1"#),
        "{text}"
    );
}
