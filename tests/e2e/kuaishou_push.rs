//! Kuaishou message push: signed and encrypted webhooks, stored once per tenant that
//! holds the seller, dispatched to their handlers and retried when they fail.

use std::sync::{Arc, Mutex};

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::kuaishou::{authorise, eventually, fake, order, platform_env, start, Platform, Shared};
use crate::support::{Server, Store};

#[tokio::test]
async fn message_push_is_verified_decrypted_stored_once_and_scoped_to_the_shop_tenant() {
    use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
    let b64 = base64::engine::general_purpose::STANDARD;
    let msg_key = [5u8; 32];
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-9".into()],
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let mut env = platform_env(&base);
    env.push(("KUAISHOU_WEBHOOK_SECRET", "push-secret".into()));
    env.push(("KUAISHOU_MSG_SECRET", b64.encode(msg_key)));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "push").await;
    authorise(&server, &admin, "code-9").await;

    let message = json!({ "eventId": "ev-1", "msgId": "msg-1", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "info": "{\"oid\":2419800012345678}", "createTime": 1735689600000_i64 });
    let sealed = cbc::Encryptor::<aes::Aes256>::new_from_slices(&msg_key, &[0u8; 16])
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(message.to_string().as_bytes());
    let body = b64.encode(sealed);
    let sign = |ts: &str, body: &str, secret: &str| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let push = |ts: String, sig: String, body: String| {
        let server = &server;
        async move {
            let res = server
                .http
                .post(format!("{}/api/v1/kuaishou/webhooks", server.base))
                .header("X-Kuaishou-Timestamp", ts)
                .header("X-Kuaishou-Signature", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            crate::support::Reply::from_response(res).await
        }
    };
    let now = chrono::Utc::now().timestamp().to_string();
    let first = push(now.clone(), sign(&now, &body, "push-secret"), body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body, json!({ "result": 1, "duplicate": false }));
    let again = push(now.clone(), sign(&now, &body, "push-secret"), body.clone()).await;
    assert_eq!(
        again.body,
        json!({ "result": 1, "duplicate": true }),
        "stored once"
    );

    push(now.clone(), sign(&now, &body, "wrong-secret"), body.clone())
        .await
        .assert_error(401, "INVALID_WEBHOOK_SIGNATURE");
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    push(old.clone(), sign(&old, &body, "push-secret"), body.clone())
        .await
        .assert_error(401, "WEBHOOK_TIMESTAMP_OUT_OF_WINDOW");
    let garbage = "not base64 !!".to_string();
    push(now.clone(), sign(&now, &garbage, "push-secret"), garbage)
        .await
        .assert_error(400, "INVALID_WEBHOOK_BODY");

    let events = server.get("/api/v1/kuaishou/events", &admin).await.body;
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events["data"][0]["event"], "kwaishop_order_paySuccess");
    assert_eq!(events["data"][0]["payload"]["eventId"], "ev-1");
    let (_, other) = server.tenant(&root, "push-2").await;
    assert_eq!(
        server.get("/api/v1/kuaishou/events", &other).await.body["data"],
        json!([])
    );
}

fn signed_push(message: &Value) -> (String, String, String) {
    let body = message.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"push-secret").unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    (ts, hex::encode(mac.finalize().into_bytes()), body)
}

async fn push(server: &Server, message: &Value) -> crate::support::Reply {
    let (ts, sig, body) = signed_push(message);
    let res = server
        .http
        .post(format!("{}/api/v1/kuaishou/webhooks", server.base))
        .header("X-Kuaishou-Timestamp", ts)
        .header("X-Kuaishou-Signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::Reply::from_response(res).await
}

#[tokio::test]
async fn pushed_events_reach_their_handlers_and_failed_ones_are_retried() {
    let now = chrono::Utc::now().timestamp_millis();
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-e".into()],
        orders: vec![order(2_419_800_000_000_101, 30, now)],
        refunds: vec![
            json!({ "refundId": 1120000123456789_i64, "orderId": 2_419_800_000_000_101_i64, "status": 10, "handlingWay": 10, "refundFee": 999, "updateTime": now }),
        ],
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let mut env = platform_env(&base);
    env.push(("KUAISHOU_WEBHOOK_SECRET", "push-secret".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "events").await;
    let shop = authorise(&server, &admin, "code-e").await;

    // Order paid: the handler reads the order from the platform and stores it.
    let paid = json!({ "eventId": "ev-p", "msgId": "m-paid", "bizId": 2_419_800_000_000_101_i64, "openId": "seller-1", "event": "kwaishop_order_paySuccess",
        "info": "{\"oid\":2419800000000101,\"status\":30}" });
    assert_eq!(push(&server, &paid).await.body["duplicate"], false);
    let orders = eventually(&server, "/api/v1/kuaishou/orders", &admin, |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    assert_eq!(orders["data"][0]["oid"], "2419800000000101");
    assert_eq!(orders["data"][0]["shop_id"], shop);

    // A refund opened: the handler stores the refund.
    let refund = json!({ "msgId": "m-refund", "openId": "seller-1", "event": "kwaishop_aftersales_addRefund",
        "info": "{\"orderId\":2419800000000101,\"refundId\":1120000123456789,\"handlingWay\":10,\"status\":10}" });
    push(&server, &refund).await;
    let refunds = eventually(&server, "/api/v1/kuaishou/refunds", &admin, |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    assert_eq!(refunds["data"][0]["refund_id"], "1120000123456789");
    assert_eq!(refunds["data"][0]["refund_fee"], 999);

    // An event whose order the platform does not know yet: the handler fails, the
    // event stays pending with its error, and a later attempt (the sweep, after the
    // backoff) succeeds once the order exists.
    let early = json!({ "msgId": "m-early", "openId": "seller-1", "event": "kwaishop_order_addOrder", "info": "{\"oid\":2419800000000202}" });
    push(&server, &early).await;
    let failed = eventually(&server, "/api/v1/kuaishou/events", &admin, |b| {
        b["data"][0]["dispatch"]["attempts"] == 1
            && !b["data"][0]["dispatch"]["last_error"].is_null()
    })
    .await;
    assert_eq!(failed["data"][0]["dispatch"]["status"], "pending");
    assert!(
        failed["data"][0]["dispatch"]["last_error"]
            .as_str()
            .unwrap()
            .contains("KUAISHOU_API_ERROR"),
        "{failed}"
    );
    state
        .lock()
        .unwrap()
        .orders
        .push(order(2_419_800_000_000_202, 10, now));
    eventually(&server, "/api/v1/kuaishou/events", &admin, |b| {
        b["data"][0]["dispatch"]["status"] == "done"
    })
    .await;
    let orders = server.get("/api/v1/kuaishou/orders", &admin).await.body;
    assert_eq!(orders["data"].as_array().unwrap().len(), 2, "{orders}");

    // A heartbeat and a seller with no shop here are kept but not dispatched.
    push(&server, &json!({ "msgId": "m-beat", "openId": "seller-1", "event": "kwaishop_order_paySuccess", "test": true })).await;
    push(&server, &json!({ "msgId": "m-stranger", "openId": "nobody", "event": "kwaishop_order_paySuccess", "info": "{\"oid\":1}" })).await;
    let events = server.get("/api/v1/kuaishou/events", &admin).await.body;
    assert_eq!(events["data"][0]["message_id"], "m-beat");
    assert_eq!(events["data"][0]["dispatch"]["status"], "skipped");
    assert_eq!(
        events["data"].as_array().unwrap().len(),
        4,
        "the stranger's event is not this tenant's"
    );

    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            r#"kuaishou_push_events_total{event="kwaishop_order_paySuccess",outcome="handled"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"kuaishou_push_events_total{event="kwaishop_order_addOrder",outcome="retry"} 1"#
        ),
        "{metrics}"
    );
}

/// The ids of the events a tenant sees.
async fn event_ids(server: &Server, token: &str) -> Vec<String> {
    let events = server.get("/api/v1/kuaishou/events", token).await.body;
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_push_goes_to_every_tenant_that_holds_the_seller_and_never_to_one_that_let_it_go() {
    // Every code belongs to the same seller (`seller-1`); tenants A and B connect it.
    let state: Shared = Arc::new(Mutex::new(Platform {
        codes: vec!["code-a".into(), "code-b".into(), "code-a2".into()],
        ..Default::default()
    }));
    let base = fake(state.clone()).await;
    let store = Store::new().await;
    let mut env = platform_env(&base);
    env.push(("KUAISHOU_WEBHOOK_SECRET", "push-secret".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, a) = server.tenant(&root, "holder-a").await;
    let (_, b) = server.tenant(&root, "holder-b").await;
    let heartbeat = |id: &str| json!({ "msgId": id, "openId": "seller-1", "event": "kwaishop_order_paySuccess", "test": true });

    // A connects the seller, then disconnects it; B connects the same seller.
    let shop_a = authorise(&server, &a, "code-a").await;
    push(&server, &heartbeat("m-held-by-a")).await;
    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/kuaishou/shops/{shop_a}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let shop_b = authorise(&server, &b, "code-b").await;
    let first = push(&server, &heartbeat("m-after-handover")).await;
    assert_eq!(first.body, json!({ "result": 1, "duplicate": false }));
    assert_eq!(
        event_ids(&server, &a).await,
        ["m-held-by-a"],
        "A let the seller go"
    );
    assert_eq!(event_ids(&server, &b).await, ["m-after-handover"]);
    let events = server.get("/api/v1/kuaishou/events", &b).await.body;
    assert_eq!(events["data"][0]["shop_id"], shop_b);

    // A connects the seller again: both hold it, each gets its own copy once.
    authorise(&server, &a, "code-a2").await;
    assert_eq!(
        push(&server, &heartbeat("m-both")).await.body["duplicate"],
        false
    );
    assert_eq!(
        push(&server, &heartbeat("m-both")).await.body["duplicate"],
        true
    );
    assert_eq!(event_ids(&server, &a).await, ["m-both", "m-held-by-a"]);
    assert_eq!(event_ids(&server, &b).await, ["m-both", "m-after-handover"]);

    // A seller nobody holds: acknowledged, dropped, counted, and logged without secrets.
    let stranger = json!({ "msgId": "m-stranger", "openId": "seller-nobody", "event": "kwaishop_order_paySuccess" });
    assert_eq!(
        push(&server, &stranger).await.body,
        json!({ "result": 1, "duplicate": false })
    );
    for token in [&a, &b] {
        assert!(!event_ids(&server, token)
            .await
            .contains(&"m-stranger".to_string()));
    }
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            r#"kuaishou_push_events_total{event="kwaishop_order_paySuccess",outcome="unowned"} 1"#
        ),
        "{metrics}"
    );
    let logs = server.logs();
    assert!(logs.contains("no shop here holds"), "{logs}");
    assert!(!logs.contains("push-secret"));
}
