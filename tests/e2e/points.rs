//! The points ledger over HTTP: concurrency, idempotency, lots and expiry, levels,
//! VIP tags, batch, freeze/reverse, every documented error shape.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{run_cli, Server, Store};

pub(crate) async fn setup(extra: &[(&str, &str)]) -> (Store, Server, String) {
    let store = Store::new().await;
    let server = Server::start_with(&store, extra).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "pts").await;
    (store, server, admin)
}

pub(crate) async fn earn(server: &Server, token: &str, member: &str, points: i64) -> Value {
    let r = server
        .post(
            "/api/v1/points/earn",
            token,
            json!({ "member_id": member, "points_amount": points, "category": "payment" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

pub(crate) async fn profile(server: &Server, token: &str, member: &str) -> Value {
    server
        .get(&format!("/api/v1/points/profiles/{member}"), token)
        .await
        .body
}

pub(crate) async fn assert_consistent(server: &Server, token: &str) {
    let report = server.get("/api/v1/points/integrity", token).await.body;
    assert_eq!(report["consistent"], true, "{report}");
}

#[tokio::test]
async fn fifty_concurrent_spends_never_overdraw() {
    let (_store, server, admin) = setup(&[("SHOPOPS_RATE_LIMIT_ENABLED", "false")]).await;
    earn(&server, &admin, "hot", 1000).await;
    let spends = (0..50).map(|_| {
        server.post(
            "/api/v1/points/spend",
            &admin,
            json!({ "member_id": "hot", "points_amount": 30 }),
        )
    });
    let replies = futures_util::future::join_all(spends).await;
    let ok = replies.iter().filter(|r| r.status == 201).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(ok, 33);
    assert_eq!(refused.len(), 17);
    for r in refused {
        let d = r.assert_error(409, "INSUFFICIENT_POINTS");
        assert_eq!(d["required_points"], 30);
        assert_eq!(d["available_points"], 10);
        assert_eq!(d["shortage"], 20);
        assert_eq!(d["suggestions"].as_array().unwrap().len(), 3);
    }
    let p = profile(&server, &admin, "hot").await;
    assert_eq!(p["total_points"], 10);
    let records = server
        .get("/api/v1/points/profiles/hot/records?limit=100", &admin)
        .await
        .body;
    let sum: i64 = records["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["points_delta"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 10, "the ledger sums to the balance");
    assert_consistent(&server, &admin).await;
}

#[tokio::test]
async fn operation_ids_replay_and_never_apply_twice() {
    let (_store, server, admin) = setup(&[]).await;
    let body = json!({ "member_id": "m", "points_amount": 40, "category": "referral", "operation_id": "order-77" });
    let first = server
        .post("/api/v1/points/earn", &admin, body.clone())
        .await;
    let again = server
        .post("/api/v1/points/earn", &admin, body.clone())
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // The same key through the header is the same operation.
    let via_header = server
        .call_with(
            Method::POST,
            "/api/v1/points/earn",
            Some(&admin),
            Some(body.clone()),
            &[("Idempotency-Key", "order-77")],
        )
        .await;
    assert_eq!(via_header.body, first.body);
    let mut other = body.clone();
    other["points_amount"] = json!(41);
    server
        .post("/api/v1/points/earn", &admin, other)
        .await
        .assert_error(422, "IDEMPOTENCY_KEY_REUSED");
    server
        .call_with(
            Method::POST,
            "/api/v1/points/earn",
            Some(&admin),
            Some(body),
            &[("Idempotency-Key", "different")],
        )
        .await
        .assert_error(400, "INVALID_IDEMPOTENCY_KEY");
    assert_eq!(profile(&server, &admin, "m").await["total_points"], 40);
    // A refused spend replays as the same refusal, even after the balance changed.
    let spend = json!({ "member_id": "m", "points_amount": 50, "operation_id": "s-1" });
    server
        .post("/api/v1/points/spend", &admin, spend.clone())
        .await
        .assert_error(409, "INSUFFICIENT_POINTS");
    earn(&server, &admin, "m", 100).await;
    let replay = server.post("/api/v1/points/spend", &admin, spend).await;
    assert_eq!(
        replay.assert_error(409, "INSUFFICIENT_POINTS")["available_points"],
        40
    );
    assert_eq!(profile(&server, &admin, "m").await["total_points"], 140);
}

#[tokio::test]
async fn spends_use_the_earliest_expiring_points_and_expiry_removes_the_rest() {
    let (store, server, admin) = setup(&[]).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    for (points, expires) in [(50, Value::Null), (100, json!(later)), (80, json!(soon))] {
        let r = server.post("/api/v1/points/earn", &admin, json!({ "member_id": "x", "points_amount": points, "category": "login", "expires_at": expires })).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = server
        .post(
            "/api/v1/points/spend",
            &admin,
            json!({ "member_id": "x", "points_amount": 30 }),
        )
        .await;
    assert_eq!(r.status, 201);
    // 30 came from the lot expiring in 2 s: 50 of it and all 100 of the later lot are left.
    let p = profile(&server, &admin, "x").await;
    assert_eq!(p["total_points"], 200);
    assert_eq!(p["expiring_soon"]["points"], 150);

    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (code, out, err) = run_cli(&store, &["points", "expire"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("expired 1 lots"), "{out}");
    let p = profile(&server, &admin, "x").await;
    assert_eq!(
        p["total_points"], 150,
        "the 50 left of the expired lot are gone"
    );
    let expired = server
        .get(
            "/api/v1/points/profiles/x/records?entry_type=expire",
            &admin,
        )
        .await
        .body;
    assert_eq!(expired["data"][0]["points_delta"], -50);
    // A second pass finds nothing: a lot expires once.
    let (_, out, _) = run_cli(&store, &["points", "expire"], None);
    assert!(out.contains("expired 0 lots"), "{out}");
    assert_consistent(&server, &admin).await;
}

#[tokio::test]
async fn a_reversed_earn_takes_back_its_own_lot_first() {
    let (_store, server, admin) = setup(&[]).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let mut entries = Vec::new();
    for (points, expires) in [(100, Value::Null), (50, json!(soon))] {
        let r = server.post("/api/v1/points/earn", &admin, json!({ "member_id": "r", "points_amount": points, "category": "login", "expires_at": expires })).await;
        assert_eq!(r.status, 201, "{}", r.body);
        entries.push(r.body["entry_id"].as_i64().unwrap());
    }
    let rev = server
        .post(
            &format!("/api/v1/points/entries/{}/reverse", entries[0]),
            &admin,
            json!({ "reason": "order refunded" }),
        )
        .await;
    assert_eq!(rev.status, 201, "{}", rev.body);
    // The 100 came out of the reversed earn's own lot, not out of the lot that expires
    // first: the 50 expiring tomorrow are all still there.
    let p = profile(&server, &admin, "r").await;
    assert_eq!(p["total_points"], 50);
    assert_eq!(p["expiring_soon"]["points"], 50);
    assert_consistent(&server, &admin).await;
}

#[tokio::test]
async fn levels_promote_on_earn_and_edits_are_visible_at_once() {
    let (_store, server, admin) = setup(&[]).await;
    let silver = server
        .post(
            "/api/v1/points/levels",
            &admin,
            json!({ "name": "Silver", "threshold": 100, "benefits": { "discount": 0.05 } }),
        )
        .await;
    assert_eq!(silver.status, 201, "{}", silver.body);
    let gold = server
        .post(
            "/api/v1/points/levels",
            &admin,
            json!({ "name": "Gold", "threshold": 500 }),
        )
        .await
        .body;
    assert_eq!(
        server
            .get("/api/v1/points/user-levels", &admin)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let r = earn(&server, &admin, "lv", 150).await;
    assert_eq!(r["current_level"]["name"], "Silver");
    // Lower Gold's threshold: the list shows it at once and the next earn promotes.
    let id = gold["id"].as_i64().unwrap();
    let r = server
        .call(
            Method::PATCH,
            &format!("/api/v1/points/levels/{id}"),
            Some(&admin),
            Some(json!({ "threshold": 200, "name": "Gold+" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let levels = server.get("/api/v1/points/user-levels", &admin).await.body;
    assert_eq!(levels[1]["threshold"], 200);
    assert_eq!(levels[1]["name"], "Gold+");
    let r = earn(&server, &admin, "lv", 60).await;
    assert_eq!(r["current_level"]["name"], "Gold+");
    // Spending never demotes.
    server
        .post(
            "/api/v1/points/spend",
            &admin,
            json!({ "member_id": "lv", "points_amount": 200 }),
        )
        .await;
    assert_eq!(
        profile(&server, &admin, "lv").await["current_level"]["name"],
        "Gold+"
    );
    server
        .post(
            "/api/v1/points/levels",
            &admin,
            json!({ "name": "Other", "threshold": 100 }),
        )
        .await
        .assert_error(409, "LEVEL_CONFLICT");
}

#[tokio::test]
async fn vip_tag_conflicts_and_their_resolutions() {
    let (_store, server, admin) = setup(&[]).await;
    let silver = server
        .post(
            "/api/v1/points/vip-tags",
            &admin,
            json!({ "tag_type": "vip", "tag_name": "VIP银牌", "rank": 1, "duration_days": 30 }),
        )
        .await
        .body;
    let gold = server
        .post(
            "/api/v1/points/vip-tags",
            &admin,
            json!({ "tag_type": "vip", "tag_name": "VIP金牌", "rank": 2, "duration_days": 30 }),
        )
        .await
        .body;
    let grant = |tag: &Value, resolution: Option<&str>| {
        let mut body = json!({ "tag_id": tag["id"] });
        if let Some(r) = resolution {
            body["resolution"] = json!(r);
        }
        server.post("/api/v1/points/profiles/vipper/vip-tags", &admin, body)
    };
    let r = grant(&silver, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let conflict = grant(&gold, None).await;
    let d = conflict.assert_error(409, "VIP_TAG_CONFLICT");
    assert_eq!(d["existing_tag"]["id"], silver["id"]);
    assert_eq!(d["existing_tag"]["tag_name"], "VIP银牌");
    assert!(d["existing_tag"]["expires_at"].is_string());
    assert_eq!(
        d["requested_tag"],
        json!({ "id": gold["id"], "tag_name": "VIP金牌" })
    );
    assert_eq!(
        d["resolution_options"],
        json!(["upgrade_existing", "extend_existing", "replace_existing"])
    );

    let up = grant(&gold, Some("upgrade_existing")).await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.body["tag"]["tag_name"], "VIP金牌");
    grant(&silver, Some("upgrade_existing"))
        .await
        .assert_error(422, "RESOLUTION_NOT_APPLICABLE");
    let before = up.body["tag"]["expires_at"].as_str().unwrap().to_string();
    let ext = grant(&silver, Some("extend_existing")).await;
    assert_eq!(
        ext.body["tag"]["tag_name"], "VIP金牌",
        "extend keeps the held tag"
    );
    assert!(ext.body["tag"]["expires_at"].as_str().unwrap() > before.as_str());
    let tags = profile(&server, &admin, "vipper").await["tags"].clone();
    assert_eq!(tags.as_array().unwrap().len(), 1);
    let r = server
        .call(
            Method::DELETE,
            "/api/v1/points/profiles/vipper/vip-tags/vip",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn freeze_unfreeze_reverse_and_batch() {
    let (_store, server, admin) = setup(&[]).await;
    let earned = earn(&server, &admin, "f", 300).await;
    let r = server
        .post(
            "/api/v1/points/freeze",
            &admin,
            json!({ "member_id": "f", "points_amount": 100 }),
        )
        .await;
    assert_eq!(
        (
            r.body["total_points"].as_i64(),
            r.body["frozen_points"].as_i64()
        ),
        (Some(200), Some(100))
    );
    let d = server
        .post(
            "/api/v1/points/unfreeze",
            &admin,
            json!({ "member_id": "f", "points_amount": 150 }),
        )
        .await;
    assert_eq!(
        d.assert_error(409, "INSUFFICIENT_FROZEN_POINTS")["frozen_points"],
        100
    );
    let freeze_id = r.body["entry_id"].as_i64().unwrap();
    server
        .post(
            &format!("/api/v1/points/entries/{freeze_id}/reverse"),
            &admin,
            json!({}),
        )
        .await
        .assert_error(422, "ENTRY_NOT_REVERSIBLE");
    server
        .post(
            "/api/v1/points/unfreeze",
            &admin,
            json!({ "member_id": "f", "points_amount": 100 }),
        )
        .await;

    let id = earned["entry_id"].as_i64().unwrap();
    let rev = server
        .post(
            &format!("/api/v1/points/entries/{id}/reverse"),
            &admin,
            json!({ "reason": "order refunded" }),
        )
        .await;
    assert_eq!(rev.status, 201, "{}", rev.body);
    assert_eq!(rev.body["entry_type"], "reversal");
    assert_eq!(rev.body["total_points"], 0);
    assert_eq!(
        rev.body["lifetime_points"], 0,
        "a reversed earn leaves lifetime too"
    );
    let again = server
        .post(
            &format!("/api/v1/points/entries/{id}/reverse"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        again.assert_error(409, "ENTRY_ALREADY_REVERSED")["entry_id"],
        id
    );
    server
        .post("/api/v1/points/entries/999999/reverse", &admin, json!({}))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");

    let ops: Vec<Value> = (0..5).map(|i| json!({ "member_id": format!("b{i}"), "points_amount": 10 * (i + 1), "category": "community" })).collect();
    let r = server
        .post(
            "/api/v1/points/batch-earn",
            &admin,
            json!({ "operations": ops, "atomic": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["succeeded"].as_i64(), r.body["failed"].as_i64()),
        (Some(5), Some(0))
    );
    assert_eq!(profile(&server, &admin, "b4").await["total_points"], 50);
    let bad = vec![
        json!({ "member_id": "c1", "points_amount": 5, "category": "login" }),
        json!({ "member_id": "c2", "points_amount": 0, "category": "nope" }),
    ];
    let r = server
        .post(
            "/api/v1/points/batch-earn",
            &admin,
            json!({ "operations": bad }),
        )
        .await;
    let d = r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(d["invalid_operations"][0]["index"], 1);
    server
        .get("/api/v1/points/profiles/c1", &admin)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_consistent(&server, &admin).await;
}
