//! What the HTTP benches share: a free port, waiting for `/readyz`, signing in, a
//! tenant with its admin, and JSON calls that fail the run on an error.

// Each bench is its own crate and uses a part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The bootstrap superadmin every bench starts the server with.
pub const ROOT: &str = "root:bench-password";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `/readyz` answers 200 (30 s at most).
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let up = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An access token.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    tenant: Option<&str>,
    user: &str,
    pass: &str,
) -> String {
    let mut body = json!({ "username": user, "password": pass });
    if let Some(t) = tenant {
        body["tenant"] = json!(t);
    }
    let r = post(http, &format!("{base}/api/v1/auth/login"), None, &body).await;
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

/// Creates tenant `bench` with admin `admin`/`bench-admin-password`; its admin's token.
pub async fn bench_tenant(http: &reqwest::Client, base: &str) -> String {
    let (user, pass) = ROOT.split_once(':').unwrap();
    let root = login(http, base, None, user, pass).await;
    post(
        http,
        &format!("{base}/api/v1/tenants"),
        Some(&root),
        &json!({ "code": "bench", "name": "Bench",
            "admin": { "username": "admin", "password": "bench-admin-password" } }),
    )
    .await;
    login(http, base, Some("bench"), "admin", "bench-admin-password").await
}

/// `POST url` with a JSON body; the answer's JSON.
pub async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut request = http.post(url).json(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// `GET url`; the answer's JSON.
pub async fn get(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
