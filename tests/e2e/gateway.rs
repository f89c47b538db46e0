//! Platform gateway end to end (docs/gateway.md): against the fake platform of
//! `fake_platform`, captchas read by its captcha service through the integrations
//! module's Chaojiying adapter, or by a person (the manual queue).

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_platform::{self as fake, Platform, Reader, PASSWORD, USERNAME, USER_NO};
use crate::fake_providers::{CJY_PASSWORD, CJY_USER};
use crate::support::{eventually, start, Server, Store};

/// The integrations config naming the captcha service as Chaojiying.
fn captcha_config(store: &Store, endpoint: &str) -> String {
    let yaml = format!(
        "captcha:\n  chaojiying:\n    user: \"{CJY_USER}\"\n    password: \"{CJY_PASSWORD}\"\n    softid: \"96001\"\n    endpoint: \"{endpoint}\"\n"
    );
    let path = store.dir.path().join("integrations.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

pub struct World {
    pub platform: Arc<Mutex<Platform>>,
    pub reader: Arc<Mutex<Reader>>,
    pub platform_url: String,
    pub env: Vec<(&'static str, String)>,
}

pub async fn world(store: &Store) -> World {
    let platform = Arc::new(Mutex::new(Platform::default()));
    let reader = Arc::new(Mutex::new(Reader::default()));
    let platform_url = fake::platform(platform.clone()).await;
    let reader_url = fake::reader(reader.clone()).await;
    let env = vec![
        ("INTEGRATIONS_CONFIG", captcha_config(store, &reader_url)),
        // The retry table's waits (1 s, 5 s …) scaled down so the retry table runs in tests.
        ("GATEWAY_NETWORK_BACKOFF_MS", "50".into()),
        ("GATEWAY_SERVER_ERROR_BACKOFF_MS", "100".into()),
        ("GATEWAY_KEEPALIVE_TICK_SECS", "1".into()),
        ("GATEWAY_KEEPALIVE_RETRY_BASE_SECS", "1".into()),
    ];
    World {
        platform,
        reader,
        platform_url,
        env,
    }
}

pub fn platform_body(url: &str, password: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": "workorders",
        "base_url": url,
        "login_url": "/login.php",
        "captcha_url": "/img.php",
        "solvers": ["chaojiying"],
        "accounts": [{ "user_no": USER_NO, "username": USERNAME, "password": password }],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

pub async fn create(server: &Server, admin: &str, body: Value) -> i64 {
    let r = server.post("/api/v1/gateway/platforms", admin, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

pub async fn call(server: &Server, token: &str, id: i64, path: &str) -> crate::support::Reply {
    let body = json!({ "method": "POST", "path": path, "query": { "page": "2" }, "headers": { "X-Trace": "t1" }, "body": "{\"a\":1}", "content_type": "application/json" });
    server
        .post(
            &format!("/api/v1/gateway/platforms/{id}/request"),
            token,
            body,
        )
        .await
}

#[tokio::test]
async fn logs_in_through_a_captcha_calls_and_refreshes_an_expired_session_once() {
    let store = Store::new().await;
    let w = world(&store).await;
    let server = start(&store, &w.env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "gw").await;
    // The first answer is wrong: reported, and a fresh captcha is read.
    w.reader.lock().unwrap().wrong_next = 1;
    let id = create(
        &server,
        &admin,
        platform_body(&w.platform_url, PASSWORD, json!({})),
    )
    .await;

    let r = call(&server, &admin, id, "/api/orders").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], 200);
    assert_eq!(r.body["refreshed"], false);
    let echoed: Value = serde_json::from_str(r.body["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["path"], "/api/orders");
    assert_eq!(echoed["query"], "page=2");
    assert_eq!(echoed["body"], "{\"a\":1}");
    assert_eq!(echoed["x_trace"], "t1");
    assert_eq!(echoed["content_type"], "application/json");
    assert_eq!(r.body["headers"]["x-platform"], "fake");
    assert!(
        r.body["headers"].get("set-cookie").is_none(),
        "cookies never leave the gateway"
    );
    {
        let p = w.platform.lock().unwrap();
        assert_eq!((p.captcha_fetches, p.login_posts, p.logins), (2, 2, 1));
        let reader = w.reader.lock().unwrap();
        assert_eq!(reader.reports, 1, "the refused answer was reported");
    }

    // A second call reuses the session.
    let r = call(&server, &admin, id, "/api/orders").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(w.platform.lock().unwrap().logins, 1);

    // The platform forgets the session: the call sees the login redirect, logs in
    // once more and succeeds.
    w.platform.lock().unwrap().expire_all();
    let r = call(&server, &admin, id, "/api/orders").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["refreshed"], true);
    assert_eq!(w.platform.lock().unwrap().logins, 2);

    // A 5xx burst shorter than the retries is absorbed; a longer one is 503.
    w.platform.lock().unwrap().fail_next = 2;
    let r = call(&server, &admin, id, "/api/orders").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    w.platform.lock().unwrap().fail_next = 10;
    let r = call(&server, &admin, id, "/api/orders").await;
    r.assert_error(503, "GATEWAY_PLATFORM_UNAVAILABLE");
    w.platform.lock().unwrap().fail_next = 0;

    // Sessions: one live account, logins counted; no cookie shown.
    let s = server
        .get(&format!("/api/v1/gateway/platforms/{id}/sessions"), &admin)
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!(s.body["sessions"][0]["state"], "live");
    assert_eq!(s.body["login_count"], 2);
    // Secrets: masked on read, absent from logs, from audit and from every answer.
    let got = server
        .get(&format!("/api/v1/gateway/platforms/{id}"), &admin)
        .await;
    assert_eq!(got.body["accounts"][0]["password"], "******");
    let audit = server.get("/api/v1/audit-logs?limit=100", &admin).await;
    let sids = w.platform.lock().unwrap().session_cookies.clone();
    for text in [
        got.body.to_string(),
        s.body.to_string(),
        audit.body.to_string(),
        server.logs(),
    ] {
        assert!(!text.contains(PASSWORD), "password leaked");
        assert!(!text.contains(USERNAME), "username leaked");
        for sid in &sids {
            assert!(!text.contains(sid.as_str()), "session cookie leaked");
        }
    }
    assert!(audit.body.to_string().contains("gateway.platform.request"));
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("gateway_logins_total{outcome=\"ok\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn platforms_are_checked_and_kept_per_tenant() {
    let store = Store::new().await;
    let w = world(&store).await;
    let server = start(&store, &w.env).await;
    let root = server.root_token().await;
    let (_, a) = server.tenant(&root, "gwa").await;
    let (_, b) = server.tenant(&root, "gwb").await;
    let bad =
        json!({ "name": "Bad Name", "base_url": "ftp://x", "captcha_url": "img", "accounts": [] });
    let r = server.post("/api/v1/gateway/platforms", &a, bad).await;
    let details = r.assert_error(422, "VALIDATION_ERROR").to_string();
    for field in ["name", "base_url", "captcha_url", "accounts"] {
        assert!(details.contains(field), "{field}: {details}");
    }
    let r = server
        .post(
            "/api/v1/gateway/platforms",
            &a,
            json!({ "name": "x", "bogus": 1 }),
        )
        .await;
    r.assert_error(400, "INVALID_REQUEST_BODY");
    let id = create(
        &server,
        &a,
        platform_body(&w.platform_url, PASSWORD, json!({})),
    )
    .await;
    let r = server
        .post(
            "/api/v1/gateway/platforms",
            &a,
            platform_body(&w.platform_url, PASSWORD, json!({})),
        )
        .await;
    r.assert_error(409, "GATEWAY_PLATFORM_NAME_TAKEN");
    // Another tenant sees none of it.
    for path in [
        format!("/api/v1/gateway/platforms/{id}"),
        format!("/api/v1/gateway/platforms/{id}/sessions"),
    ] {
        server
            .get(&path, &b)
            .await
            .assert_error(404, "RESOURCE_NOT_FOUND");
    }
    call(&server, &b, id, "/api/x")
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(w.platform.lock().unwrap().captcha_fetches, 0);
    // A path cannot leave the platform.
    let r = server
        .post(
            &format!("/api/v1/gateway/platforms/{id}/request"),
            &a,
            json!({ "method": "GET", "path": "//evil.example/x" }),
        )
        .await;
    r.assert_error(422, "VALIDATION_ERROR");
    // PATCH keeps what it does not name; DELETE is audited and final.
    let r = server
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/gateway/platforms/{id}"),
            Some(&a),
            Some(json!({ "keepalive_interval": 60 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["keepalive_interval"].as_i64(),
            r.body["captcha_url"].as_str()
        ),
        (Some(60), Some("/img.php"))
    );
    let r = server
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/gateway/platforms/{id}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    server
        .get(&format!("/api/v1/gateway/platforms/{id}"), &a)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn a_refused_password_is_never_retried_and_alerts() {
    let store = Store::new().await;
    let w = world(&store).await;
    let mut env = w.env.clone();
    env.push(("SHOPOPS_ALERT_EVAL_SECS", "1".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "gwp").await;
    let id = create(
        &server,
        &admin,
        platform_body(&w.platform_url, "wrong-password", json!({})),
    )
    .await;
    let r = call(&server, &admin, id, "/api/orders").await;
    r.assert_error(502, "GATEWAY_AUTHENTICATION_FAILED");
    // Later calls do not go back to the platform with the refused password.
    for _ in 0..3 {
        let r = call(&server, &admin, id, "/api/orders").await;
        r.assert_error(422, "GATEWAY_CONFIGURATION_ERROR");
    }
    assert_eq!(
        w.platform.lock().unwrap().login_posts,
        1,
        "one login attempt, no loop"
    );
    let got = server
        .get(&format!("/api/v1/gateway/platforms/{id}"), &admin)
        .await;
    assert_eq!(got.body["accounts"][0]["state"], "auth_failed");
    eventually("the refused account alerts", async || {
        let alerts = server.get("/api/v1/alerts", &root).await;
        alerts
            .body
            .to_string()
            .contains("gateway_account_refused")
            .then_some(())
    })
    .await;
    // A new password brings the platform back.
    let accounts =
        json!({ "accounts": [{ "user_no": USER_NO, "username": USERNAME, "password": PASSWORD }] });
    let r = server
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/gateway/platforms/{id}"),
            Some(&admin),
            Some(accounts),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        call(&server, &admin, id, "/api/orders").await.status,
        StatusCode::OK
    );
}

/// Accounts rotate past a refused one; a session serves `max_session_uses` calls, then
/// a fresh login is made.
#[tokio::test]
async fn accounts_rotate_and_sessions_retire_after_their_uses() {
    let store = Store::new().await;
    let w = world(&store).await;
    let server = start(&store, &w.env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "gwr").await;
    let accounts = json!([
        { "user_no": USER_NO, "username": USERNAME, "password": "stale-password" },
        { "user_no": USER_NO, "username": USERNAME, "password": PASSWORD },
    ]);
    let extra = json!({ "accounts": accounts, "max_session_uses": 2 });
    let id = create(
        &server,
        &admin,
        platform_body(&w.platform_url, PASSWORD, extra),
    )
    .await;
    call(&server, &admin, id, "/api/orders")
        .await
        .assert_error(502, "GATEWAY_AUTHENTICATION_FAILED");
    // The next account logs in; its session serves two calls, the third logs in again.
    for _ in 0..3 {
        let r = call(&server, &admin, id, "/api/orders").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert_eq!(w.platform.lock().unwrap().logins, 2);
    let s = server
        .get(&format!("/api/v1/gateway/platforms/{id}/sessions"), &admin)
        .await;
    let states: Vec<&str> = s.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["refused", "live"]);
}

#[tokio::test]
async fn a_person_answers_the_manual_captcha() {
    let store = Store::new().await;
    let w = world(&store).await;
    let server = start(&store, &w.env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "gwm").await;
    let (_, other) = server.tenant(&root, "gwo").await;
    let id = create(
        &server,
        &admin,
        platform_body(&w.platform_url, PASSWORD, json!({ "solvers": ["manual"] })),
    )
    .await;
    let login = {
        let (http, base, admin) = (server.http.clone(), server.base.clone(), admin.clone());
        tokio::spawn(async move {
            let res = http
                .post(format!("{base}/api/v1/gateway/platforms/{id}/login"))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        })
    };
    let pending = eventually("a captcha waits for a person", async || {
        let r = server.get("/api/v1/gateway/captchas/pending", &admin).await;
        r.body.as_array().and_then(|a| a.first().cloned())
    })
    .await;
    assert_eq!(pending["content_type"], "image/png");
    assert!(pending["label"].as_str().unwrap().contains("workorders"));
    let captcha = pending["id"].as_i64().unwrap();
    let other_sees = server.get("/api/v1/gateway/captchas/pending", &other).await;
    assert_eq!(other_sees.body, json!([]));
    let answer = json!({ "text": w.platform.lock().unwrap().last_captcha.clone() });
    let path = format!("/api/v1/gateway/captchas/{captcha}");
    server
        .post(&path, &other, answer.clone())
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let r = server.post(&path, &admin, answer.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    server
        .post(&path, &admin, answer)
        .await
        .assert_error(409, "GATEWAY_CAPTCHA_NOT_PENDING");
    let (status, body) = login.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["solver"], "manual");
    assert_eq!(w.platform.lock().unwrap().logins, 1);
}

/// The local model logs in on real captchas (drawn by `make test-models`), a misread
/// one refused by the platform and retried with a fresh image. Needs the model and the
/// drawn captchas: `make test-models` runs it with their paths.
#[tokio::test]
async fn logs_in_with_the_local_model() {
    let (Ok(models), Ok(reference)) = (
        std::env::var("SHOPOPS_TEST_CAPTCHA_MODEL_DIR"),
        std::env::var("SHOPOPS_TEST_CAPTCHA_REFERENCE"),
    ) else {
        eprintln!("no local captcha model here: make test-models runs this test");
        return;
    };
    let store = Store::new().await;
    let w = world(&store).await;
    let rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&reference).unwrap()).unwrap();
    // Start on a captcha the model misreads (if any), so the retry path runs.
    let misread = rows.iter().position(|r| {
        r["ddddocr"].as_str().map(str::to_lowercase) != r["truth"].as_str().map(str::to_lowercase)
    });
    let first = misread.unwrap_or(0);
    w.platform.lock().unwrap().images = rows[first..]
        .iter()
        .chain(&rows[..first])
        .map(|r| {
            (
                std::fs::read(r["file"].as_str().unwrap()).unwrap(),
                r["truth"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let models_root = std::path::Path::new(&models)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut env = w.env.clone();
    env.push(("GATEWAY_MODELS_DIR", models_root));
    let server = start(&store, &env).await;
    let ready = server
        .http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert!(ready
        .text()
        .await
        .unwrap()
        .contains("local captcha model loaded"));
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "gwl").await;
    let body = platform_body(
        &w.platform_url,
        PASSWORD,
        json!({ "solvers": ["local"], "captcha_max_retries": 10 }),
    );
    let id = create(&server, &admin, body).await;
    let r = server
        .post(
            &format!("/api/v1/gateway/platforms/{id}/login"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["solver"], "local");
    let p = w.platform.lock().unwrap();
    assert_eq!(p.logins, 1);
    if misread.is_some() {
        assert!(
            p.captcha_fetches >= 2,
            "the misread captcha was retried with a fresh one"
        );
    }
}
