//! Kuaishou order sync (HTTP and command line) and the several-shops order query,
//! against the fake platform in `kuaishou`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{json, Value};

use crate::kuaishou::{authorise, fake, order, platform_env, start, Platform, Shared};
use crate::support::Store;

#[tokio::test]
async fn order_sync_is_incremental_idempotent_and_survives_a_503_burst() {
    let now = chrono::Utc::now().timestamp_millis();
    let orders: Vec<Value> = (0..250)
        .map(|i| order(2_419_800_000_000_000 + i, 30, now - 3_600_000 + i * 1000))
        .collect();
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-s".into()],
        orders,
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let env = platform_env(&base);
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "sync").await;
    let id = authorise(&server, &admin, "code-s").await;
    let path = format!("/api/v1/kuaishou/shops/{id}/sync");
    let sync = || server.call(Method::POST, &path, Some(&admin), None);

    let r = sync().await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["orders_written"], 250);
    assert_eq!(r.body["pages"], 3, "pages of 100");
    let count = || async {
        let rows = store
            .rows("SELECT COUNT(*) AS n FROM kuaishou_orders")
            .await;
        rows[0].try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(count().await, 250);

    // A re-run changes nothing; a changed order is written again.
    let r = sync().await;
    assert_eq!(r.body["orders_written"], 0, "{}", r.body);
    state.lock().unwrap().orders[7] = order(
        2_419_800_000_000_007,
        40,
        chrono::Utc::now().timestamp_millis(),
    );
    let r = sync().await;
    assert_eq!(r.body["orders_written"], 1, "{}", r.body);
    assert_eq!(count().await, 250, "no duplicates");
    let listed = server
        .get(
            &format!("/api/v1/kuaishou/orders?shop_id={id}&status=40"),
            &admin,
        )
        .await
        .body;
    assert_eq!(
        listed["data"][0]["oid"], "2419800000000007",
        "oids beyond 2^53 are kept exactly, as text"
    );

    // A 503 burst is ridden out by the retries (the same signed request resent).
    state.lock().unwrap().fail_next = 2;
    let r = sync().await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state.lock().unwrap().fail_next, 0);

    // Another tenant sees no orders.
    let (_, other) = server.tenant(&root, "sync-2").await;
    assert_eq!(
        server.get("/api/v1/kuaishou/orders", &other).await.body["data"],
        json!([])
    );
    drop(server);

    // The command-line sync, with progress, from an explicit start.
    let since = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let mut cmd = crate::support::command(&store);
    cmd.envs(env).args([
        "kuaishou",
        "sync",
        "--shop",
        &id.to_string(),
        "--since",
        &since,
    ]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["orders_seen"], 250);
    assert_eq!(report["orders_written"], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("250 orders seen"));
}

#[tokio::test]
async fn several_shops_orders_at_once_each_failure_reported_beside_the_others() {
    let now = chrono::Utc::now().timestamp_millis();
    let orders: Vec<Value> = (0..130)
        .map(|i| order(2_419_800_000_100_000 + i, 30, now - 60_000 + i))
        .collect();
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-a".into(), "code-b".into()],
        open_ids: HashMap::from([("code-b".to_string(), "seller-2".to_string())]),
        orders,
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let server = start(&store, &platform_env(&base)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "batch").await;
    let a = authorise(&server, &admin, "code-a").await;
    let b = authorise(&server, &admin, "code-b").await;
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/kuaishou/shops/{b}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let (_, other) = server.tenant(&root, "batch-2").await;

    let query = json!({ "shop_ids": [a, b, 999_999], "begin_time": now - 3_600_000, "end_time": now + 1, "query_type": 2, "max_orders_per_shop": 120 });
    let r = server
        .post("/api/v1/kuaishou/orders/query", &admin, query.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shops = r.body["shops"].as_array().unwrap();
    assert_eq!(r.body["failed"], 2);
    assert_eq!(
        (shops[0]["shop_id"].as_i64(), shops[0]["ok"].as_bool()),
        (Some(a), Some(true))
    );
    assert_eq!(shops[0]["orders"].as_array().unwrap().len(), 120, "capped");
    assert_eq!(shops[0]["truncated"], true);
    assert_eq!(
        shops[0]["orders"][0]["orderBaseInfo"]["oid"],
        2_419_800_000_100_000_i64
    );
    assert_eq!(shops[1]["error"]["code"], "KUAISHOU_SHOP_REVOKED");
    assert_eq!(shops[2]["error"]["code"], "RESOURCE_NOT_FOUND");
    // Another tenant's query for the same shop: not found, no orders.
    let r = server
        .post("/api/v1/kuaishou/orders/query", &other, query)
        .await;
    assert_eq!(
        r.body["shops"][0]["error"]["code"], "RESOURCE_NOT_FOUND",
        "{}",
        r.body
    );
    let bad = server
        .post(
            "/api/v1/kuaishou/orders/query",
            &admin,
            json!({ "shop_ids": [], "begin_time": 5, "end_time": 1 }),
        )
        .await;
    let d = bad.assert_error(422, "VALIDATION_ERROR");
    assert!(
        d["field_errors"]["shop_ids"].is_array() && d["field_errors"]["end_time"].is_array(),
        "{d}"
    );

    // Per-method call counts and latencies are exported.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            r#"kuaishou_api_calls_total{method="open.order.cursor.list",outcome="ok"} 2"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "kuaishou_api_call_duration_seconds_count{method=\"open.order.cursor.list\"} 2"
        ),
        "{metrics}"
    );

    // A throttling platform (429 on every retry too) is a 429 for the caller.
    state.lock().unwrap().throttle_next = 100;
    server
        .get(&format!("/api/v1/kuaishou/shops/{a}/info"), &admin)
        .await
        .assert_error(429, "KUAISHOU_RATE_LIMITED");
}
