//! Customer service in operation: a failing or slow LLM provider (messages wait in
//! review with the reason, one alert), the reply cache, agents' heartbeats and their
//! alert, daily statistics against counts made here, and tenant isolation on every
//! route.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cs_support::*;
use crate::support::{eventually, run_cli, start, Store};

#[tokio::test]
async fn a_failing_provider_leaves_messages_in_review_with_one_alert() {
    let (url, llm) = llm_stand_in().await;
    let store = Store::new().await;
    let mut env = llm_env(&url);
    env.push(("CS_AGENT_OFFLINE_SECS", "10".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "ops").await;
    let shop = shop(&server, &admin, "运营店", json!({})).await;

    // The same question from two buyers: one LLM call, then the reply cache.
    let first = routed(&server, &admin, shop, "buyer-1", "你们店铺在哪个城市").await;
    let second = routed(&server, &admin, shop, "buyer-2", "你们店铺在哪个城市？").await;
    assert_eq!(first["reply"]["text"], second["reply"]["text"]);
    assert_eq!(llm.calls(), 1);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("cs_reply_cache_total{outcome=\"hit\"} 1"),
        "{metrics}"
    );

    // Down, rate limited, too slow: each message waits in review without a draft,
    // with the reason; nothing is sent automatically.
    for (mode, content, reason) in [
        (Mode::Down, "能寄到新疆吗", "500"),
        (Mode::Limited, "有没有赠品", "429"),
        (Mode::Slow, "可以改地址吗", "timed out"),
    ] {
        llm.set(mode);
        let m = routed(&server, &admin, shop, "buyer-3", content).await;
        assert_eq!(m["status"], "review", "{m}");
        assert_eq!(m["reply"]["auto_send"], false);
        assert!(m["reply"]["text"].is_null(), "no canned text: {m}");
        let failure = m["draft_failure"].as_str().unwrap();
        assert!(failure.contains(reason), "{failure}");
        assert!(
            !failure.contains(LLM_KEY) && !failure.contains(content),
            "{failure}"
        );
    }
    assert!(
        !server.logs().contains(LLM_KEY),
        "the key never reaches a log"
    );
    assert!(
        !server.logs().contains("能寄到新疆吗"),
        "buyer text never reaches a log"
    );

    // A reviewer writes the reply of a message without a draft.
    let m = routed(&server, &admin, shop, "buyer-4", "发什么快递").await;
    let id = m["id"].as_i64().unwrap();
    server
        .post(
            &format!("/api/v1/cs/reviews/{id}/approve"),
            &admin,
            json!({}),
        )
        .await
        .assert_error(422, "VALIDATION_ERROR");
    let r = server
        .post(
            &format!("/api/v1/cs/reviews/{id}/approve"),
            &admin,
            json!({ "reply": "默认发中通快递。" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The provider back: drafts again.
    llm.set(Mode::Normal);
    let m = routed(&server, &admin, shop, "buyer-5", "可以货到付款吗").await;
    assert_eq!(m["reply"]["source"], "llm", "{m}");

    // One alert for the provider, however many failures.
    eventually("an LLM alert", async || {
        let alerts = server
            .get("/api/v1/alerts?rule=cs_llm_success_rate", &root)
            .await
            .body;
        alerts["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["status"] == "firing"))
            .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let alerts = server
        .get("/api/v1/alerts?rule=cs_llm_success_rate", &root)
        .await
        .body;
    let firing: Vec<&Value> = alerts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "firing")
        .collect();
    assert_eq!(firing.len(), 1, "{alerts}");
    assert_eq!(firing[0]["key"], "cs_llm_success_rate:qwen");

    // An agent that stops sending heartbeats goes offline and raises its alert.
    let (_, dora) = agent(&server, &admin, "ops", "dora", &[shop]).await;
    let desk = agent_token(&server, &dora, "desk").await;
    let r = server
        .post(
            "/api/v1/cs/agents/heartbeat",
            &desk,
            json!({ "shop_ids": [shop], "version": "1.0.0", "host": "desk-01" }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("online")),
        "{}",
        r.body
    );
    eventually("the agent offline", async || {
        let agents = server.get("/api/v1/cs/agents", &admin).await.body;
        (agents[0]["status"] == "offline").then_some(())
    })
    .await;
    eventually("an agent alert", async || {
        let alerts = server
            .get("/api/v1/alerts?rule=cs_agent_offline", &root)
            .await
            .body;
        alerts["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["status"] == "firing"))
            .then_some(())
    })
    .await;
}

/// `day 10:mm` in Shanghai, as RFC 3339.
fn at(day: chrono::NaiveDate, minute: u32) -> String {
    format!("{day}T10:{minute:02}:00+08:00")
}

#[tokio::test]
async fn daily_statistics_match_the_counts_of_a_seeded_day() {
    let (url, _llm) = llm_stand_in().await;
    let store = Store::new().await;
    let server = start(&store, &llm_env(&url)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "stats").await;
    let shop_a = shop(&server, &admin, "甲店", json!({})).await;
    let shop_b = shop(&server, &admin, "乙店", json!({ "auto_mode": false })).await;
    let day =
        (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive() - chrono::Duration::days(2);

    let post = async |shop: i64, customer: &str, content: &str, received_at: String| -> Value {
        let r = server
            .post(
                "/api/v1/cs/messages",
                &admin,
                json!({ "shop_id": shop, "customer_id": customer, "content": content, "source": "manual", "received_at": received_at }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    };
    // Shop A: three KB questions sent automatically, two drafts.
    for (i, (question, _)) in FAQ.iter().enumerate() {
        let m = post(shop_a, &format!("a-{i}"), question, at(day, i as u32)).await;
        assert_eq!(m["status"], "answered", "{m}");
    }
    let draft_a1 = post(shop_a, "a-7", "衣服会不会起球", at(day, 10)).await;
    let draft_a2 = post(shop_a, "a-8", "有没有小一号的", at(day, 11)).await;
    // Shop B (auto mode off): two FAQ questions and two others, all in review.
    let mut b = Vec::new();
    for (i, content) in [FAQ[0].0, FAQ[1].0, "能便宜点吗", "包邮吗"]
        .iter()
        .enumerate()
    {
        b.push(post(shop_b, &format!("b-{i}"), content, at(day, 20 + i as u32)).await);
    }
    // The next day's message is not counted.
    post(
        shop_a,
        "a-9",
        "明天能到吗",
        at(day + chrono::Duration::days(1), 0),
    )
    .await;

    let approve = async |m: &Value, body: Value| {
        let r = server
            .post(
                &format!("/api/v1/cs/reviews/{}/approve", m["id"]),
                &admin,
                body,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    };
    approve(&draft_a1, json!({})).await;
    approve(&draft_a2, json!({ "reply": "有的，S码有货。" })).await;
    approve(&b[0], json!({})).await;
    approve(&b[2], json!({})).await;
    let r = server
        .post(
            &format!("/api/v1/cs/reviews/{}/reject", b[3]["id"]),
            &admin,
            json!({ "note": "重复咨询" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // b[1] stays in review.

    let (code, out, err) = run_cli(&store, &["cs", "stats", "--date", &day.to_string()], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"tenant_id\""), "{out}");
    let rows = server
        .get(
            &format!("/api/v1/cs/stats/daily?from={day}&to={day}"),
            &admin,
        )
        .await;
    assert_eq!(rows.status, 200, "{}", rows.body);
    let row = |shop: i64| {
        rows.body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["shop_id"] == shop)
            .cloned()
            .unwrap()
    };
    let figures = |r: &Value| {
        [
            "messages",
            "auto_sent",
            "reviewed",
            "approved_unedited",
            "approved_edited",
            "rejected",
            "kb_answered",
        ]
        .map(|k| r[k].as_i64().unwrap())
    };
    // Counted here: A 5 messages, 3 sent from the KB, 2 reviewed (one edited);
    // B 4 messages, 3 reviewed (2 approved as drafted, 1 rejected), 1 waiting; a KB
    // answer approved by a reviewer counts as answered from the KB.
    assert_eq!(figures(&row(shop_a)), [5, 3, 2, 1, 1, 0, 3]);
    assert_eq!(figures(&row(shop_b)), [4, 0, 3, 2, 0, 1, 1]);
    assert_eq!(figures(&row(0)), [9, 3, 5, 3, 1, 1, 4]);
    assert_eq!(row(shop_a)["kb_hit_rate"].as_f64().unwrap(), 3.0 / 5.0);
    // Of the reviewed drafts (5), approved without an edit: 3.
    assert_eq!(row(0)["ai_accuracy"].as_f64().unwrap(), 3.0 / 5.0);

    // A re-run replaces the day's rows with the same figures.
    let (code, _, _) = run_cli(
        &store,
        &[
            "cs",
            "stats",
            "--date",
            &day.to_string(),
            "--tenant",
            "stats",
        ],
        None,
    );
    assert_eq!(code, 0);
    let again = server
        .get(
            &format!("/api/v1/cs/stats/daily?from={day}&to={day}"),
            &admin,
        )
        .await;
    assert_eq!(again.body.as_array().unwrap().len(), 3);
    assert_eq!(figures(&again.body[0]), figures(&row(0)));
}

#[tokio::test]
async fn another_tenant_reaches_nothing_of_a_tenant() {
    let (url, _llm) = llm_stand_in().await;
    let store = Store::new().await;
    let server = start(&store, &llm_env(&url)).await;
    let root = server.root_token().await;
    let (_, a) = server.tenant(&root, "iso-a").await;
    let (_, b) = server.tenant(&root, "iso-b").await;
    let shop = shop(&server, &a, "甲店", json!({ "auto_mode": false })).await;
    let m = routed(&server, &a, shop, "buyer-1", "什么时候发货").await;
    let id = m["id"].clone();
    let (_, agent_login) = agent(&server, &a, "iso-a", "erin", &[shop]).await;
    let desk = agent_token(&server, &agent_login, "desk").await;
    let r = server
        .post(
            "/api/v1/cs/agents/heartbeat",
            &desk,
            json!({ "shop_ids": [shop], "version": "1.0.0", "host": "h" }),
        )
        .await;
    let agent_id = r.body["id"].clone();
    // One message answered (in the outbox), one left in review; A's statistics computed.
    server
        .post(&format!("/api/v1/cs/reviews/{id}/approve"), &a, json!({}))
        .await;
    let waiting = routed(&server, &a, shop, "buyer-2", "可以开发票吗").await;
    assert_eq!(waiting["status"], "review");
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let (code, out, err) = run_cli(&store, &["cs", "stats", "--date", &today.to_string()], None);
    assert_eq!(code, 0, "{out}{err}");
    let a_stats = server
        .get(
            &format!("/api/v1/cs/stats/daily?from={today}&to={today}&shop_id={shop}"),
            &a,
        )
        .await;
    assert_eq!(a_stats.body[0]["messages"], 2, "{}", a_stats.body);

    let not_found: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/cs/shops/{shop}"), None),
        (
            Method::PATCH,
            format!("/api/v1/cs/shops/{shop}"),
            Some(json!({ "reply_delay": 5 })),
        ),
        (Method::DELETE, format!("/api/v1/cs/shops/{shop}"), None),
        (Method::GET, format!("/api/v1/cs/shops/{shop}/agents"), None),
        (
            Method::PUT,
            format!("/api/v1/cs/shops/{shop}/agents"),
            Some(json!({ "user_ids": [] })),
        ),
        (
            Method::POST,
            "/api/v1/cs/messages".into(),
            Some(
                json!({ "shop_id": shop, "customer_id": "x", "content": "在吗", "source": "api" }),
            ),
        ),
        (Method::GET, format!("/api/v1/cs/messages/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/cs/reviews/{id}/claim"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/cs/reviews/{id}/approve"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/cs/reviews/{id}/reject"),
            Some(json!({ "note": "x" })),
        ),
        (
            Method::GET,
            format!("/api/v1/cs/outbox?shop_id={shop}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/cs/outbox/{id}/ack"),
            Some(json!({ "result": "sent" })),
        ),
        (
            Method::DELETE,
            format!("/api/v1/cs/agents/{agent_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/cs/stats/daily?from={today}&to={today}&shop_id={shop}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/cs/kb/entries?shop_id={shop}"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/cs/kb/search".into(),
            Some(json!({ "query": "发货", "shop_id": shop })),
        ),
    ];
    for (method, path, body) in not_found {
        let r = server.call(method.clone(), &path, Some(&b), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
    }
    assert_eq!(server.get("/api/v1/cs/shops", &b).await.body, json!([]));
    for path in [
        "/api/v1/cs/messages".to_string(),
        "/api/v1/cs/reviews".into(),
        format!("/api/v1/cs/reviews?shop_id={shop}"),
    ] {
        let r = server.get(&path, &b).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body["data"], json!([]), "{path}");
    }
    let r = server.get("/api/v1/cs/agents", &b).await;
    assert_eq!(r.body, json!([]));
    let r = server
        .get(
            &format!("/api/v1/cs/stats/daily?from={today}&to={today}"),
            &b,
        )
        .await;
    assert_eq!(r.body, json!([]), "B computed nothing; A's rows stay A's");
    // Nothing changed for A.
    let r = server.get(&format!("/api/v1/cs/shops/{shop}"), &a).await;
    assert_eq!(
        (r.status.as_u16(), r.body["reply_delay"].as_i64()),
        (200, Some(0))
    );
    let r = server.get(&format!("/api/v1/cs/messages/{id}"), &a).await;
    assert_eq!(r.body["status"], "answered");
    let r = server
        .get(&format!("/api/v1/cs/messages/{}", waiting["id"]), &a)
        .await;
    assert_eq!(r.body["status"], "review");
    assert_eq!(
        server
            .get(&format!("/api/v1/cs/outbox?shop_id={shop}"), &desk)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
