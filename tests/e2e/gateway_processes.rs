//! Platform gateway end to end across processes (docs/gateway.md, docs/operations.md):
//! the keepalive, one login for many processes, the worker's job leadership.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::fake_platform::PASSWORD;
use crate::gateway::{call, create, platform_body, world};
use crate::support::{eventually, start, Server, Store};

/// The worker (or, without Redis, the server's own job) heartbeats the session past
/// the platform's idle timeout, so a call after a long pause needs no new login.
#[tokio::test]
async fn keepalive_keeps_a_session_alive_past_its_idle_timeout() {
    let store = Store::new().await;
    let w = world(&store).await;
    w.platform.lock().unwrap().idle_timeout = Duration::from_secs(3);
    let shared = std::env::var("TEST_REDIS_URL").is_ok();
    let mut env = w.env.clone();
    if shared {
        env.push(("SHOPOPS_JOBS", "off".into()));
    }
    let server = start(&store, &env).await;
    let _worker = if shared {
        let env: Vec<(&str, &str)> = w.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Some(Server::start_worker(&store, &env).await)
    } else {
        None
    };
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "gwk").await;
    let id = create(
        &server,
        &admin,
        platform_body(
            &w.platform_url,
            PASSWORD,
            json!({ "keepalive_interval": 1 }),
        ),
    )
    .await;
    assert_eq!(
        call(&server, &admin, id, "/api/orders").await.status,
        StatusCode::OK
    );
    let idle = Instant::now();
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(idle.elapsed() > Duration::from_secs(3) * 2);
    assert!(
        w.platform.lock().unwrap().heartbeats >= 2,
        "heartbeats were sent"
    );
    let r = call(&server, &admin, id, "/api/orders").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["refreshed"], false, "the session stayed alive");
    assert_eq!(w.platform.lock().unwrap().logins, 1);
}

/// Three servers and the worker on one Redis: the platform forgets the session and 30
/// calls arrive at once: exactly one login.
#[tokio::test]
async fn thirty_concurrent_calls_on_three_servers_make_one_login() {
    if std::env::var("TEST_REDIS_URL").is_err() {
        eprintln!("TEST_REDIS_URL not set: sessions are shared across processes only through Redis (make test-services)");
        return;
    }
    let store = Store::new().await;
    let w = world(&store).await;
    let servers = [
        start(&store, &w.env).await,
        start(&store, &w.env).await,
        start(&store, &w.env).await,
    ];
    let env: Vec<(&str, &str)> = w.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _worker = Server::start_worker(&store, &env).await;
    let root = servers[0].root_token().await;
    let (_, admin) = servers[0].tenant(&root, "gws").await;
    let id = create(
        &servers[0],
        &admin,
        platform_body(&w.platform_url, PASSWORD, json!({})),
    )
    .await;
    for server in &servers {
        // Each replica loads the new tenant's grants within rbac_reload_secs.
        eventually("the replica knows the new tenant's roles", async || {
            let r = server.get("/api/v1/gateway/platforms", &admin).await;
            (r.status == StatusCode::OK).then_some(())
        })
        .await;
    }
    assert_eq!(
        call(&servers[1], &admin, id, "/api/orders").await.status,
        StatusCode::OK
    );
    assert_eq!(w.platform.lock().unwrap().logins, 1);
    w.platform.lock().unwrap().expire_all();
    let calls = (0..30).map(|i| {
        let (http, base, admin) = (
            servers[i % 3].http.clone(),
            servers[i % 3].base.clone(),
            admin.clone(),
        );
        async move {
            let res = http
                .post(format!("{base}/api/v1/gateway/platforms/{id}/request"))
                .bearer_auth(admin)
                .json(&json!({ "method": "GET", "path": "/api/orders" }))
                .send()
                .await
                .unwrap();
            res.status()
        }
    });
    let statuses = futures_util::future::join_all(calls).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        w.platform.lock().unwrap().logins,
        2,
        "one login for the expiry, not thirty"
    );
}

/// Two workers: one leads the keepalive job; killed, the other takes it within a lease.
#[tokio::test]
async fn a_killed_leading_worker_is_replaced_within_one_lease() {
    if std::env::var("TEST_REDIS_URL").is_err() {
        eprintln!(
            "TEST_REDIS_URL not set: leases span processes only through Redis (make test-services)"
        );
        return;
    }
    let store = Store::new().await;
    let w = world(&store).await;
    let mut env: Vec<(&str, &str)> = w.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("SHOPOPS_JOB_LEASE_SECS", "3"));
    let mut workers = [
        Server::start_worker(&store, &env).await,
        Server::start_worker(&store, &env).await,
    ];
    let leads = |s: &Server| {
        s.logs()
            .lines()
            .any(|l| l.contains("leading job") && l.contains("job:gateway_keepalive"))
    };
    let leader = eventually("one worker leads the keepalive job", async || {
        (0..2).find(|&i| leads(&workers[i]))
    })
    .await;
    assert!(!leads(&workers[1 - leader]), "one leader at a time");
    workers[leader].kill();
    let killed = Instant::now();
    let standby = &workers[1 - leader];
    eventually("the standby takes the job over", async || {
        leads(standby).then_some(())
    })
    .await;
    assert!(
        killed.elapsed() < Duration::from_secs(3 + 2),
        "taken over within one lease (+ a renewal tick)"
    );
}
