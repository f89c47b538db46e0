//! Customer service, the message loop against the real binary and an OpenAI-compatible
//! stand-in: a KB question answered at once, a draft reviewed and delivered once, two
//! agents never given the same reply, the shop's rules holding automatic replies
//! back, duplicates, and one reviewer winning a race.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::cs_support::*;
use crate::support::{start, Store};

#[tokio::test]
async fn a_kb_question_is_sent_a_draft_is_reviewed_and_each_reply_typed_once() {
    let (url, llm) = llm_stand_in().await;
    let store = Store::new().await;
    let server = start(&store, &llm_env(&url)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "loop").await;
    let shop = shop(&server, &admin, "旗舰店", json!({})).await;

    // A KB question: the KB answer goes out without a person and without the LLM.
    let sent = routed(&server, &admin, shop, "buyer-1", "什么时候发货？").await;
    assert_eq!(sent["status"], "answered", "{sent}");
    assert_eq!(sent["decided_by"], "kb_auto");
    assert_eq!(sent["reply"]["source"], "kb");
    assert_eq!(sent["reply"]["auto_send"], true);
    assert_eq!(sent["reply"]["text"], FAQ[0].1);
    assert!(sent["reply"]["confidence"].as_f64().unwrap() > 0.9);
    assert_eq!(sent["delivery"], "ready");
    assert_eq!(llm.calls(), 0);

    // An unrelated question: an LLM draft, in review.
    let drafted = routed(&server, &admin, shop, "buyer-2", "这件外套有没有XL码的").await;
    assert_eq!(drafted["status"], "review", "{drafted}");
    assert_eq!(drafted["decided_by"], "llm_only");
    assert_eq!(drafted["reply"]["source"], "llm");
    assert_eq!(drafted["reply"]["model"], "qwen:qwen-plus");
    assert_eq!(drafted["reply"]["auto_send"], false);
    let seen = llm.last();
    assert_eq!(seen.message, "这件外套有没有XL码的");
    assert!(seen.kb_context.is_none());
    assert!(seen.system.contains("客服"), "the default Chinese prompt");
    assert_eq!(drafted["reply"]["text"], draft_for(&seen));

    // The same message read again within the window is the same message (200), and
    // costs no LLM call.
    let calls = llm.calls();
    let again = post_message(&server, &admin, shop, "buyer-2", "这件外套有没有XL码的！").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], drafted["id"]);
    assert_eq!(llm.calls(), calls);

    // Between the bands, the LLM drafts with the KB entry as reference: a shop whose
    // auto band no hit reaches and whose assist band every hit does.
    let careful = shop_with_bands(&server, &admin).await;
    let assisted = routed(&server, &admin, careful, "buyer-3", "什么时候发货").await;
    assert_eq!(assisted["decided_by"], "kb_assist", "{assisted}");
    assert!(assisted["reply"]["kb_entry_id"].is_i64());
    let seen = llm.last();
    assert_eq!(seen.kb_context.as_ref().unwrap().answer, FAQ[0].1);
    assert_eq!(assisted["reply"]["text"], draft_for(&seen));

    // Review: an agent claims, another is refused, the claimant approves an edit.
    let (_, alice) = agent(&server, &admin, "loop", "alice", &[shop]).await;
    let (_, bob) = agent(&server, &admin, "loop", "bob", &[shop]).await;
    let id = drafted["id"].as_i64().unwrap();
    let queue = server
        .get(&format!("/api/v1/cs/reviews?shop_id={shop}"), &alice)
        .await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(queue.body["data"][0]["id"], id);
    let r = server
        .post(&format!("/api/v1/cs/reviews/{id}/claim"), &alice, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    server
        .post(&format!("/api/v1/cs/reviews/{id}/claim"), &bob, json!({}))
        .await
        .assert_error(409, "CS_REVIEW_CLAIMED");
    server
        .post(&format!("/api/v1/cs/reviews/{id}/approve"), &bob, json!({}))
        .await
        .assert_error(409, "CS_REVIEW_CLAIMED");
    let edited = "亲，XL码有货的，放心拍～";
    let r = server
        .post(
            &format!("/api/v1/cs/reviews/{id}/approve"),
            &alice,
            json!({ "reply": edited }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["reply"]["edited"].as_bool()
        ),
        (Some("answered"), Some(true))
    );
    assert_eq!(r.body["delivery"], "ready");

    // Delivery: two agents poll at once and never hold the same reply.
    let token_a = agent_token(&server, &alice, "desk-a").await;
    let token_b = agent_token(&server, &bob, "desk-b").await;
    let outbox = format!("/api/v1/cs/outbox?shop_id={shop}");
    let (a, b) = tokio::join!(server.get(&outbox, &token_a), server.get(&outbox, &token_b));
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (200, 200),
        "{} {}",
        a.body,
        b.body
    );
    let ids = |r: &crate::support::Reply| -> Vec<i64> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["message_id"].as_i64().unwrap())
            .collect()
    };
    let (held_a, held_b) = (ids(&a), ids(&b));
    assert!(
        held_a.iter().all(|i| !held_b.contains(i)),
        "{held_a:?} {held_b:?}"
    );
    let all: HashSet<i64> = held_a.iter().chain(&held_b).copied().collect();
    assert_eq!(all, HashSet::from([sent["id"].as_i64().unwrap(), id]));
    let item = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .chain(b.body.as_array().unwrap())
        .find(|i| i["message_id"] == id)
        .unwrap();
    assert_eq!(
        (item["text"].as_str(), item["reply_delay"].as_i64()),
        (Some(edited), Some(0))
    );

    // Only the holder acknowledges; a sent reply is never offered again.
    let (holder, other) = if held_a.contains(&id) {
        (&token_a, &token_b)
    } else {
        (&token_b, &token_a)
    };
    server
        .post(
            &format!("/api/v1/cs/outbox/{id}/ack"),
            other,
            json!({ "result": "sent" }),
        )
        .await
        .assert_error(409, "CS_LEASE_NOT_HELD");
    let r = server
        .post(
            &format!("/api/v1/cs/outbox/{id}/ack"),
            holder,
            json!({ "result": "sent" }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["delivery"].as_str()),
        (200, Some("sent")),
        "{}",
        r.body
    );
    for token in [&token_a, &token_b] {
        let r = server.get(&outbox, token).await;
        assert!(!ids(&r).contains(&id), "{}", r.body);
    }
    // The history tells the whole story, oldest first.
    let detail = server
        .get(&format!("/api/v1/cs/messages/{id}"), &admin)
        .await
        .body;
    let kinds: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["received", "routed", "claimed", "approved", "offered", "sent"],
        "{detail}"
    );
    // The same counts, live in Prometheus.
    let metrics = server.metrics().await;
    for line in [
        "cs_messages_total{decided_by=\"kb_auto\"} 1",
        "cs_messages_total{decided_by=\"llm_only\"} 1",
        "cs_messages_total{decided_by=\"kb_assist\"} 1",
        "cs_reviews_total{outcome=\"approved_edited\"} 1",
        "cs_deliveries_total{outcome=\"sent\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// A shop whose KB answers always land between the bands.
async fn shop_with_bands(server: &crate::support::Server, admin: &str) -> i64 {
    shop(
        server,
        admin,
        "谨慎店",
        json!({ "kb_auto_threshold": 1.0, "kb_assist_threshold": 0.01 }),
    )
    .await
}

#[tokio::test]
async fn rules_hold_automatic_replies_and_one_of_two_approvals_wins() {
    let (url, _llm) = llm_stand_in().await;
    let store = Store::new().await;
    let server = start(&store, &llm_env(&url)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "rules").await;

    // Blacklist: a customer id, and a keyword (`keyword:` prefix).
    let guarded = shop(
        &server,
        &admin,
        "规则店",
        json!({ "blacklist": ["buyer-bad", "keyword:投诉"] }),
    )
    .await;
    let m = routed(&server, &admin, guarded, "buyer-bad", "什么时候发货").await;
    assert_eq!(
        (m["status"].as_str(), m["decided_by"].as_str()),
        (Some("review"), Some("blacklist_customer")),
        "{m}"
    );
    assert_eq!(
        (
            m["reply"]["source"].as_str(),
            m["reply"]["auto_send"].as_bool()
        ),
        (Some("kb"), Some(false))
    );
    let m = routed(
        &server,
        &admin,
        guarded,
        "buyer-ok",
        "什么时候发货 不发货我就投诉",
    )
    .await;
    assert_eq!(m["status"], "review", "{m}");
    let m = routed(&server, &admin, guarded, "buyer-ok", "什么时候发货").await;
    assert_eq!(m["status"], "answered", "{m}");

    // Whitelist: only the listed customers get automatic replies.
    let listed = shop(
        &server,
        &admin,
        "白名单店",
        json!({ "whitelist": ["vip-1"] }),
    )
    .await;
    let m = routed(&server, &admin, listed, "buyer-9", "什么时候发货").await;
    assert_eq!(m["decided_by"], "not_whitelisted", "{m}");
    let m = routed(&server, &admin, listed, "vip-1", "什么时候发货").await;
    assert_eq!(m["decided_by"], "kb_auto", "{m}");

    // Business hours in the tenant's time zone (Asia/Shanghai): a window that is not now.
    let hour = (chrono::Utc::now() + chrono::Duration::hours(8 + 6))
        .format("%H")
        .to_string();
    let next = (hour.parse::<u32>().unwrap() + 1) % 24;
    let closed = shop(
        &server,
        &admin,
        "夜店",
        json!({ "business_hours": format!("{hour}:00-{next:02}:00") }),
    )
    .await;
    let m = routed(&server, &admin, closed, "buyer-1", "什么时候发货").await;
    assert_eq!(m["decided_by"], "outside_business_hours", "{m}");

    // Auto mode off: everything to review.
    let manual = shop(&server, &admin, "人工店", json!({ "auto_mode": false })).await;
    let m = routed(&server, &admin, manual, "buyer-1", "什么时候发货").await;
    assert_eq!(m["decided_by"], "auto_mode_off", "{m}");

    // Two reviewers approve the same message at once: one 200, one 409.
    let id = m["id"].as_i64().unwrap();
    let (_, carol) = agent(&server, &admin, "rules", "carol", &[manual]).await;
    let approve = format!("/api/v1/cs/reviews/{id}/approve");
    let (x, y) = tokio::join!(
        server.post(&approve, &admin, json!({})),
        server.post(&approve, &carol, json!({}))
    );
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} {}", x.body, y.body);
    let loser = if x.status == 409 { &x } else { &y };
    assert!(
        ["CS_NOT_IN_REVIEW", "CS_REVIEW_CLAIMED"]
            .contains(&loser.body["error"]["code"].as_str().unwrap()),
        "{}",
        loser.body
    );

    // An agent sees only its shops.
    let r = server
        .get(&format!("/api/v1/cs/messages/{}", m["id"]), &carol)
        .await;
    assert_eq!(r.status, 200);
    let r = server
        .get(&format!("/api/v1/cs/shops/{guarded}"), &carol)
        .await;
    r.assert_error(404, "RESOURCE_NOT_FOUND");
    let listed_for_carol = server.get("/api/v1/cs/messages", &carol).await.body;
    let shops: HashSet<i64> = listed_for_carol["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["shop_id"].as_i64().unwrap())
        .collect();
    assert_eq!(shops, HashSet::from([manual]));

    // An agent's knowledge-base writes stay in its shops; tenant-wide ones are the admins'.
    let entry = |shop: Option<i64>| json!({ "question": "会员价怎么算", "answer": "会员九五折", "shop_id": shop });
    server
        .post("/api/v1/cs/kb/entries", &carol, entry(Some(guarded)))
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    server
        .post("/api/v1/cs/kb/entries", &carol, entry(None))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    let r = server
        .post("/api/v1/cs/kb/entries", &carol, entry(Some(manual)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    server
        .post("/api/v1/cs/kb/search", &carol, json!({ "query": "发货" }))
        .await
        .assert_error(422, "VALIDATION_ERROR");
    let seen = server
        .get("/api/v1/cs/kb/entries?limit=100", &carol)
        .await
        .body;
    assert!(
        seen["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["shop_id"].is_null() || e["shop_id"] == manual),
        "{seen}"
    );
    // A read-only member, never assigned, reads every shop.
    server.user(&admin, "victor", &["viewer"]).await;
    let viewer = server.token(Some("rules"), "victor", "user-password").await;
    assert_eq!(
        server
            .get("/api/v1/cs/shops", &viewer)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // A region far off any screen is refused, not wrapped around.
    server
        .post(
            "/api/v1/cs/shops",
            &admin,
            json!({ "name": "越界店", "ocr_region": [i64::MAX, 0, 1, 1] }),
        )
        .await
        .assert_error(422, "VALIDATION_ERROR");

    // Reject with a hand-off, and approve into the KB.
    let m = routed(&server, &admin, manual, "buyer-2", "可以开发票吗").await;
    let r = server
        .post(
            &format!("/api/v1/cs/reviews/{}/reject", m["id"]),
            &carol,
            json!({ "note": "买家要求电话联系", "handoff": true }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("ignored")),
        "{}",
        r.body
    );
    assert_eq!(r.body["handoff_reason"], "买家要求电话联系");
    let m = routed(
        &server,
        &admin,
        manual,
        "buyer-3",
        "你们家的包装是环保材料吗",
    )
    .await;
    let r = server
        .post(
            &format!("/api/v1/cs/reviews/{}/approve", m["id"]),
            &admin,
            json!({ "reply": "是的，包装全部采用可降解材料。", "add_to_kb": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found = server
        .post(
            "/api/v1/cs/kb/search",
            &admin,
            json!({ "query": "包装是环保材料吗", "shop_id": manual }),
        )
        .await
        .body;
    let best: &Value = &found["hits"][0];
    assert_eq!(best["answer"], "是的，包装全部采用可降解材料。", "{found}");
}
