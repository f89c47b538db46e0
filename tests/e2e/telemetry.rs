//! `/metrics` after traffic, security headers and CORS.

use reqwest::Method;

use crate::support::{Server, Store};

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_show_requests_by_route_template_jobs_and_pool() {
    let store = Store::new().await;
    let server = Server::start_with(&store, &[("SHOPOPS_RBAC_RELOAD_SECS", "1")]).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "metrics").await;
    let id = server.user(&admin, "m1", &[]).await;
    for _ in 0..3 {
        assert_eq!(
            server
                .get(&format!("/api/v1/users/{id}"), &admin)
                .await
                .status,
            200
        );
    }
    server.get("/api/v1/users/999999", &admin).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let text = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let route = r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="200"}"#;
    assert_eq!(value(&text, route), Some(3.0), "{text}");
    assert_eq!(
        value(
            &text,
            r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="404"}"#
        ),
        Some(1.0)
    );
    assert!(
        value(
            &text,
            r#"http_request_duration_seconds_count{method="POST",route="/api/v1/auth/login"}"#
        )
        .unwrap_or(0.0)
            >= 2.0
    );
    assert!(
        text.contains(r#"route="unmatched""#) || !text.contains("/api/v1/users/999999"),
        "paths never become labels"
    );
    assert!(
        value(&text, r#"job_runs_total{job="rbac_reload",outcome="ok"}"#).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(value(&text, "db_pool_connections").unwrap_or(0.0) >= 1.0);
    assert!(text.contains("db_pool_max_connections"));
}

#[tokio::test]
async fn security_headers_and_cors_follow_configuration() {
    let store = Store::new().await;
    let server = Server::start_with(
        &store,
        &[
            ("SHOPOPS_CORS_ALLOWED_ORIGINS", "https://admin.example.com"),
            ("SHOPOPS_HSTS_MAX_AGE_SECS", "31536000"),
        ],
    )
    .await;
    let r = server.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(r
        .header("strict-transport-security")
        .is_some_and(|v| v.starts_with("max-age=31536000")));

    let preflight = |origin: &'static str| {
        server
            .http
            .request(Method::OPTIONS, format!("{}/api/v1/users", server.base))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type,idempotency-key",
            )
            .send()
    };
    let ok = preflight("https://admin.example.com").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://admin.example.com"
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
