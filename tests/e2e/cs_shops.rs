//! Customer service, the rules around shops and delivery that the loop tests do not
//! reach: every shop field checked, a deleted shop taking its messages and entries in
//! one audited step, agents kept to their shops, claims and leases that lapse, failed
//! typing, and every status change in the audit log.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::cs_support::*;
use crate::support::{start, Store};

#[tokio::test]
async fn every_shop_field_is_checked_and_a_deleted_shop_takes_its_data() {
    let (url, _llm) = llm_stand_in().await;
    let store = Store::new().await;
    let server = start(&store, &llm_env(&url)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "shops").await;

    for (field, value) in [
        ("name", json!("")),
        ("ocr_region", json!([0, 0, 100])),
        ("ocr_region", json!([16000, 0, 1000, 10])),
        ("unread_threshold", json!(0)),
        ("ai_model", json!("gpt-unknown")),
        ("business_hours", json!("09:00-25:00")),
        ("reply_delay", json!(301)),
        ("kb_assist_threshold", json!(0.95)),
        ("blacklist", json!(["keyword:"])),
        ("whitelist", json!(["keyword:退款"])),
    ] {
        let mut body = json!({ "name": "检查店" });
        body[field] = value.clone();
        let r = server.post("/api/v1/cs/shops", &admin, body).await;
        let details = r.assert_error(422, "VALIDATION_ERROR");
        assert!(
            details["field_errors"][field].is_array(),
            "{field} {value}: {details}"
        );
    }
    let shop = shop(&server, &admin, "旗舰店", json!({ "auto_mode": false })).await;
    let r = server
        .post("/api/v1/cs/shops", &admin, json!({ "name": "旗舰店" }))
        .await;
    assert!(r.assert_error(422, "VALIDATION_ERROR")["field_errors"]["name"].is_array());
    // Defaults as documented.
    let other = server
        .post("/api/v1/cs/shops", &admin, json!({ "name": "默认店" }))
        .await
        .body;
    assert_eq!(
        (
            &other["unread_threshold"],
            &other["ai_model"],
            &other["auto_mode"],
            &other["reply_delay"]
        ),
        (&json!(0.02), &json!("stub"), &json!(false), &json!(2))
    );
    assert_eq!(
        (&other["kb_auto_threshold"], &other["kb_assist_threshold"]),
        (&json!(0.9), &json!(0.6))
    );

    let message = routed(&server, &admin, shop, "buyer-1", "什么时候发货").await;
    // An Idempotency-Key names one message: again → the message, another body → 422.
    let keyed = |customer: &str| {
        let body = json!({ "shop_id": shop, "customer_id": customer, "content": "能开发票吗", "source": "api" });
        server.call_with(
            Method::POST,
            "/api/v1/cs/messages",
            Some(&admin),
            Some(body),
            &[("Idempotency-Key", "msg-1")],
        )
    };
    let first = keyed("buyer-2").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = keyed("buyer-2").await;
    assert_eq!(
        (again.status.as_u16(), &again.body["id"]),
        (200, &first.body["id"])
    );
    keyed("buyer-3")
        .await
        .assert_error(422, "IDEMPOTENCY_KEY_REUSED");
    let entries = server
        .get(
            &format!("/api/v1/cs/kb/entries?shop_id={shop}&limit=100"),
            &admin,
        )
        .await
        .body;
    let shop_entry = entries["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["shop_id"] == shop)
        .unwrap()["id"]
        .clone();
    let shared = server
        .post(
            "/api/v1/cs/kb/entries",
            &admin,
            json!({ "question": "营业时间", "answer": "9点到22点" }),
        )
        .await
        .body["id"]
        .clone();
    let (_, agent_login) = agent(&server, &admin, "shops", "fay", &[shop]).await;

    // Only admins delete; an agent is refused and nothing goes.
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/cs/shops/{shop}"),
            Some(&agent_login),
            None,
        )
        .await;
    r.assert_error(403, "INSUFFICIENT_PERMISSIONS");
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/cs/shops/{shop}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    for path in [
        format!("/api/v1/cs/shops/{shop}"),
        format!("/api/v1/cs/messages/{}", message["id"]),
        format!("/api/v1/cs/kb/entries/{shop_entry}"),
    ] {
        assert_eq!(server.get(&path, &admin).await.status, 404, "{path}");
    }
    assert_eq!(
        server
            .get(&format!("/api/v1/cs/kb/entries/{shared}"), &admin)
            .await
            .status,
        200
    );
    let audit = server
        .get("/api/v1/audit-logs?action=cs.shop.delete", &admin)
        .await
        .body;
    assert_eq!(audit["data"][0]["target_id"], shop.to_string(), "{audit}");
}

#[tokio::test]
async fn claims_and_leases_lapse_failed_typing_is_retried_then_handed_over() {
    let (url, _llm) = llm_stand_in().await;
    let store = Store::new().await;
    let mut env = llm_env(&url);
    env.push(("CS_REVIEW_CLAIM_SECS", "10".into()));
    env.push(("CS_OUTBOX_LEASE_SECS", "5".into()));
    env.push(("CS_DELIVERY_MAX_ATTEMPTS", "2".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "lapse").await;
    let mine = shop(&server, &admin, "甲店", json!({ "auto_mode": false })).await;
    let theirs = shop(&server, &admin, "乙店", json!({ "auto_mode": false })).await;
    let (_, gus) = agent(&server, &admin, "lapse", "gus", &[mine]).await;
    let (_, hal) = agent(&server, &admin, "lapse", "hal", &[mine]).await;

    // An agent reviews only its shops, and tells only of them.
    let elsewhere = routed(&server, &admin, theirs, "buyer-9", "什么时候发货").await;
    let r = server
        .post(
            &format!("/api/v1/cs/reviews/{}/claim", elsewhere["id"]),
            &gus,
            json!({}),
        )
        .await;
    r.assert_error(404, "RESOURCE_NOT_FOUND");
    let desk_g = agent_token(&server, &gus, "desk-g").await;
    let desk_h = agent_token(&server, &hal, "desk-h").await;
    let r = server
        .post(
            "/api/v1/cs/agents/heartbeat",
            &desk_g,
            json!({ "shop_ids": [theirs], "version": "1", "host": "g" }),
        )
        .await;
    assert!(r.assert_error(422, "VALIDATION_ERROR")["field_errors"]["shop_ids"].is_array());

    // A claim holds for cs.review_claim_secs, then another reviewer may take it.
    let a = routed(&server, &admin, mine, "buyer-1", "什么时候发货").await;
    let b = routed(&server, &admin, mine, "buyer-2", "可以开发票吗").await;
    let claim = |id: &Value| format!("/api/v1/cs/reviews/{id}/claim");
    assert_eq!(
        server.post(&claim(&a["id"]), &gus, json!({})).await.status,
        200
    );
    server
        .post(&claim(&a["id"]), &hal, json!({}))
        .await
        .assert_error(409, "CS_REVIEW_CLAIMED");

    // Two replies ready; gus leases both.
    let approve = |id: &Value| format!("/api/v1/cs/reviews/{id}/approve");
    assert_eq!(
        server
            .post(&approve(&b["id"]), &admin, json!({}))
            .await
            .status,
        200
    );
    let outbox = format!("/api/v1/cs/outbox?shop_id={mine}");
    let held = server.get(&outbox, &desk_g).await.body;
    assert_eq!(held.as_array().unwrap().len(), 1, "{held}");
    assert_eq!(held[0]["message_id"], b["id"]);
    assert!(
        server
            .get(&outbox, &desk_g)
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty(),
        "not offered twice"
    );
    assert!(server
        .get(&outbox, &desk_h)
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty());

    // Lapsed: after the lease (5 s + reply_delay 0) another agent gets it; after the
    // claim (10 s) another reviewer may claim.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let taken = server.get(&outbox, &desk_h).await.body;
    assert_eq!(taken[0]["message_id"], b["id"], "{taken}");
    server
        .post(
            &format!("/api/v1/cs/outbox/{}/ack", b["id"]),
            &desk_g,
            json!({ "result": "sent" }),
        )
        .await
        .assert_error(409, "CS_LEASE_NOT_HELD");
    assert_eq!(
        server.post(&claim(&a["id"]), &hal, json!({})).await.status,
        200
    );

    // Typing fails: offered again at once, then handed over after max attempts (2).
    let ack = format!("/api/v1/cs/outbox/{}/ack", b["id"]);
    let r = server
        .post(
            &ack,
            &desk_h,
            json!({ "result": "failed", "error": "window not found" }),
        )
        .await;
    assert_eq!(
        (
            r.body["delivery"].as_str(),
            r.body["delivery_attempts"].as_i64()
        ),
        (Some("ready"), Some(1)),
        "{}",
        r.body
    );
    let again = server.get(&outbox, &desk_g).await.body;
    assert_eq!(
        (
            again[0]["message_id"].clone(),
            again[0]["attempts"].as_i64()
        ),
        (b["id"].clone(), Some(1))
    );
    let r = server
        .post(
            &format!("/api/v1/cs/outbox/{}/ack", b["id"]),
            &desk_g,
            json!({ "result": "failed" }),
        )
        .await;
    assert_eq!(r.body["delivery"], "failed", "{}", r.body);
    assert!(server
        .get(&outbox, &desk_h)
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty());

    // Every status change is in the audit log.
    let audit = server
        .get(
            &format!(
                "/api/v1/audit-logs?target_type=cs_message&target_id={}",
                b["id"]
            ),
            &admin,
        )
        .await
        .body;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "cs.message.status")
            .count(),
        2,
        "{audit}"
    );
    assert!(actions.contains(&"cs.message.receive"), "{audit}");
}
