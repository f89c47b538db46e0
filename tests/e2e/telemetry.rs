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

    let text = server.metrics().await;
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
    // A refused origin gets what browsers expect of a refusal: a plain answer with no
    // allow headers (not a 400 envelope), and the log says which setting would allow it.
    for _ in 0..2 {
        let denied = preflight("https://evil.example.com").await.unwrap();
        assert_eq!(denied.status(), 204);
        assert!(denied
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-allow")));
    }
    let logs = server.logs();
    let hints = logs
        .lines()
        .filter(|l| {
            l.contains("https://evil.example.com") && l.contains("SHOPOPS_CORS_ALLOWED_ORIGINS")
        })
        .count();
    assert_eq!(hints, 1, "logged once per origin: {logs}");
}

/// A minimal OTLP/HTTP receiver: stores every request body it gets.
async fn otlp_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                loop {
                    // One request after another on a kept-alive connection.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
                    store.lock().unwrap().push(body);
                    buf.drain(..head_end + len);
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                    if sock.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

#[tokio::test]
async fn spans_reach_an_otlp_receiver_with_the_request_id() {
    let (endpoint, bodies) = otlp_receiver().await;
    let store = Store::new().await;
    let server = Server::start_with(
        &store,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "shopops-e2e"),
        ],
    )
    .await;
    let r = server
        .call_with(
            Method::GET,
            "/api/v1/me",
            None,
            None,
            &[
                ("X-Request-Id", "otel-trace-42"),
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 401);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let span = loop {
        let found = bodies
            .lock()
            .unwrap()
            .iter()
            .find(|b| b.contains("otel-trace-42"))
            .cloned();
        if let Some(body) = found {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no span with the request id reached the receiver"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let export: serde_json::Value = serde_json::from_str(&span).expect("OTLP JSON");
    let text = export.to_string();
    assert!(text.contains(r#""key":"request_id""#), "{text}");
    assert!(
        text.contains("shopops-e2e"),
        "service name is a resource attribute"
    );
    assert!(text.contains(r#""key":"route""#) && text.contains("/api/v1/me"));
    // The caller's trace is continued.
    assert!(
        text.to_ascii_lowercase()
            .contains("4bf92f3577b34da6a3ce929d0e0e4736"),
        "{text}"
    );
}

#[tokio::test]
async fn docs_pages_and_token_answers_carry_the_right_headers() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| no_redirects.get(format!("{}{path}", server.base)).send();

    // `/docs` leads to `/docs/`; the Swagger page calls no outside validator.
    let r = get("/docs").await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/docs/");
    let page = get("/docs/").await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let init = get("/docs/swagger-initializer.js")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        init.contains(r#""validatorUrl": "none""#) || init.contains(r#""validatorUrl":"none""#),
        "{init}"
    );

    // The error catalogue is HTML with an anchor per code, as documentation_url expects.
    let errors = get("/docs/errors").await.unwrap();
    assert!(errors.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(errors.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let html = errors.text().await.unwrap();
    let envelope = server.call(Method::GET, "/api/v1/me", None, None).await;
    let url = envelope.body["error"]["documentation_url"]
        .as_str()
        .unwrap()
        .to_string();
    let anchor = url.split_once('#').unwrap().1;
    assert!(
        html.contains(&format!("id=\"{anchor}\"")),
        "no anchor {anchor}"
    );

    // Answers that carry tokens are never cached.
    let login = server
        .login(
            None,
            crate::support::ROOT_USER,
            crate::support::ROOT_PASSWORD,
        )
        .await;
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let token = login.body["access_token"].as_str().unwrap();
    let me = server.get("/api/v1/me", token).await;
    assert_eq!(me.header("cache-control"), Some("no-store"));
    let refreshed = server
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(serde_json::json!({ "refresh_token": login.body["refresh_token"] })),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    let (_, admin) = server.tenant(token, "headers").await;
    let created = server
        .post(
            "/api/v1/api-tokens",
            &admin,
            serde_json::json!({ "name": "agent", "scopes": ["users:read"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    assert!(created.header("content-security-policy").is_some());
}
