//! Payments end to end, against local fake WeChat Pay and Alipay: query-before-failover,
//! refunds, callbacks applied once (tampered ones refused), WeChat Pay certificate mode.

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_providers as fake;
use crate::integrations::write_config;
use crate::support::{eventually, start, Server, Store};

fn payment_yaml(wechat: &str, alipay: &str) -> String {
    format!(
        r#"
payment:
  wechatpay:
    priority: 1
    timeout_secs: 1
    mchid: "1900000109"
    appid: "wxd678efh567hg6787"
    merchant_serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    merchant_private_key: "${{E2E_WECHAT_MERCHANT_KEY}}"
    apiv3_key: "${{E2E_WECHAT_APIV3_KEY}}"
    platform_public_key_id: "${{E2E_WECHAT_PUB_KEY_ID}}"
    platform_public_key: "${{E2E_WECHAT_PUB_KEY}}"
    notify_url: "https://shop.example.com/api/v1/integrations/callbacks/wechatpay"
    base_url: "{wechat}"
  alipay:
    priority: 2
    app_id: "2021000123456789"
    app_private_key: "${{E2E_ALIPAY_APP_KEY}}"
    alipay_public_key: "${{E2E_ALIPAY_PUBLIC_KEY}}"
    notify_url: "https://shop.example.com/api/v1/integrations/callbacks/alipay"
    gateway: "{alipay}"
"#
    )
}

/// `payment_yaml` with no platform key or certificate: certificate mode, all downloaded.
fn certificate_mode_yaml(wechat: &str, alipay: &str) -> String {
    payment_yaml(wechat, alipay)
        .lines()
        .filter(|l| !l.contains("platform_public_key"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn payment_env(config: &str) -> Vec<(&'static str, String)> {
    let w = fake::vector_keys("wechatpay", "01-native-prepay");
    let a = fake::vector_keys("alipay", "01-trade-precreate");
    let s = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    vec![
        ("INTEGRATIONS_CONFIG", config.to_string()),
        // An open circuit tries again after 2 s, not 30, so the test need not wait.
        ("SHOPOPS_BREAKER_OPEN_SECS", "2".into()),
        ("E2E_WECHAT_MERCHANT_KEY", s(&w, "merchant_private_key_pem")),
        ("E2E_WECHAT_APIV3_KEY", s(&w, "apiv3_key")),
        ("E2E_WECHAT_PUB_KEY_ID", s(&w, "platform_public_key_id")),
        ("E2E_WECHAT_PUB_KEY", s(&w, "platform_public_key_pem")),
        ("E2E_ALIPAY_APP_KEY", s(&a, "app_private_key_pkcs1_pem")),
        (
            "E2E_ALIPAY_PUBLIC_KEY",
            s(&a, "alipay_public_key_bare_base64"),
        ),
    ]
}

/// A provider's notification to `/callbacks/{provider}`: (status, body of the answer).
async fn notify(
    server: &Server,
    provider: &str,
    headers: &[(String, String)],
    body: String,
) -> (u16, String) {
    let mut req = server
        .http
        .post(format!(
            "{}/api/v1/integrations/callbacks/{provider}",
            server.base
        ))
        .body(body);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn payments_fail_over_safely_and_notifications_apply_once() {
    let wechat_state = Arc::new(Mutex::new(fake::Wechat::default()));
    let alipay_state = Arc::new(Mutex::new(fake::Alipay::default()));
    let wechat = fake::wechat(wechat_state.clone()).await;
    let (alipay, alipay_signer) = fake::alipay(alipay_state.clone()).await;
    let store = Store::new().await;
    let config = write_config(&store, &payment_yaml(&wechat.url, &alipay));
    let env = payment_env(&config);
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "pay").await;
    let create = |body: Value, key: &'static str| {
        let (server, admin) = (&server, &admin);
        async move {
            server
                .call_with(
                    Method::POST,
                    "/api/v1/integrations/payments",
                    Some(admin),
                    Some(body),
                    &[("Idempotency-Key", key)],
                )
                .await
        }
    };

    // WeChat Pay takes a QR payment; the fake checked our signature, we checked its.
    let p = create(
        json!({ "channel": "qr", "amount": 100, "description": "会员月卡" }),
        "pay-1",
    )
    .await;
    assert_eq!(p.status, 201, "{}", p.body);
    assert_eq!(p.body["provider"], "wechatpay");
    assert_eq!(p.body["status"], "pending");
    let no = p.body["out_trade_no"].as_str().unwrap().to_string();
    assert_eq!(
        p.body["client_data"]["code_url"],
        format!("weixin://wxpay/bizpayurl?pr={no}")
    );
    let replay = create(
        json!({ "channel": "qr", "amount": 100, "description": "会员月卡" }),
        "pay-1",
    )
    .await;
    assert_eq!(replay.body["id"], p.body["id"], "an idempotent replay");
    assert_eq!(wechat_state.lock().unwrap().calls, 1);

    // The payment notification: verified, decrypted, applied once.
    let resource = fake::wechat_paid(&no, "4200000000202612010000000001", 100);
    let (headers, body) = wechat.notification("TRANSACTION.SUCCESS", &resource);
    let (status, text) = notify(&server, "wechatpay", &headers, body.clone()).await;
    assert_eq!((status, text.as_str()), (200, ""));
    let id = p.body["id"].as_i64().unwrap();
    let paid = server
        .get(&format!("/api/v1/integrations/payments/{id}"), &admin)
        .await
        .body;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(paid["provider_trade_no"], "4200000000202612010000000001");
    // The provider resends it: acknowledged, no second effect.
    let (status, _) = notify(&server, "wechatpay", &headers, body.clone()).await;
    assert_eq!(status, 200);
    let audit = server
        .get(
            "/api/v1/audit-logs?action=integrations.payment.status",
            &admin,
        )
        .await
        .body;
    assert_eq!(
        audit["data"].as_array().unwrap().len(),
        1,
        "applied once: {audit}"
    );
    // A tampered body is refused as WeChat Pay expects, and changes nothing.
    let tampered = body.replace("encrypt-resource", "encrypt-resourcf");
    let (status, text) = notify(&server, "wechatpay", &headers, tampered).await;
    assert_eq!(
        status, 500,
        "WeChat Pay's SDK answers a refused notification 500: {text}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "FAIL"
    );

    // A refund at the payment's provider.
    let r = server
        .call_with(
            Method::POST,
            &format!("/api/v1/integrations/payments/{id}/refunds"),
            Some(&admin),
            Some(json!({ "amount": 40, "reason": "少发一件" })),
            &[("Idempotency-Key", "refund-1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "success");
    let too_much = server
        .post(
            &format!("/api/v1/integrations/payments/{id}/refunds"),
            &admin,
            json!({ "amount": 61 }),
        )
        .await;
    assert_eq!(
        too_much.assert_error(409, "REFUND_EXCEEDS_PAYMENT")["refundable"],
        60
    );
    let partly = server
        .get(&format!("/api/v1/integrations/payments/{id}"), &admin)
        .await
        .body;
    assert_eq!(
        (
            partly["status"].as_str(),
            partly["refunded_amount"].as_i64()
        ),
        (Some("partially_refunded"), Some(40))
    );
    // The same refund again by its number (no key): answered, not counted twice; the
    // number with another amount is someone else's.
    let no_again = r.body["out_refund_no"].as_str().unwrap().to_string();
    let again = server
        .post(
            &format!("/api/v1/integrations/payments/{id}/refunds"),
            &admin,
            json!({ "amount": 40, "out_refund_no": no_again }),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    let other = server
        .post(
            &format!("/api/v1/integrations/payments/{id}/refunds"),
            &admin,
            json!({ "amount": 10, "out_refund_no": no_again }),
        )
        .await;
    other.assert_error(409, "OUT_REFUND_NO_TAKEN");
    let after = server
        .get(&format!("/api/v1/integrations/payments/{id}"), &admin)
        .await
        .body;
    assert_eq!(after["refunded_amount"], 40, "{after}");
    // A refund the provider accepts but has not paid back yet (PROCESSING), asked
    // again by its number: still counted once.
    wechat_state.lock().unwrap().refunds_processing = true;
    for _ in 0..2 {
        let r = server
            .post(
                &format!("/api/v1/integrations/payments/{id}/refunds"),
                &admin,
                json!({ "amount": 15, "out_refund_no": "refund-pending-1" }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "processing");
    }
    let after = server
        .get(&format!("/api/v1/integrations/payments/{id}"), &admin)
        .await
        .body;
    assert_eq!(after["refunded_amount"], 55, "{after}");
    wechat_state.lock().unwrap().refunds_processing = false;

    // WeChat Pay never answers: asked first, it has no such order — Alipay takes it.
    wechat_state.lock().unwrap().hang = true;
    let p2 = create(
        json!({ "channel": "qr", "amount": 8888, "description": "Iphone6 16G" }),
        "pay-2",
    )
    .await;
    assert_eq!(p2.status, 201, "{}", p2.body);
    assert_eq!(p2.body["provider"], "alipay");
    let no2 = p2.body["out_trade_no"].as_str().unwrap().to_string();
    assert_eq!(
        p2.body["client_data"]["qr_code"],
        format!("https://qr.alipay.com/{no2}")
    );
    assert_eq!(alipay_state.lock().unwrap().refused_signatures, 0);
    wechat_state.lock().unwrap().hang = false;

    // WeChat Pay takes an order but the answer is lost, and it cannot be asked: the
    // outcome is unknown and the order goes nowhere else.
    {
        let mut w = wechat_state.lock().unwrap();
        w.takes_then_hangs = true;
        w.queries_down = true;
    }
    let alipay_calls = alipay_state.lock().unwrap().calls.len();
    let order = json!({ "channel": "qr", "amount": 500, "description": "运费险" });
    let lost = create(order.clone(), "pay-lost").await;
    lost.assert_error(503, "PAYMENT_OUTCOME_UNKNOWN");
    assert_eq!(
        alipay_state.lock().unwrap().calls.len(),
        alipay_calls,
        "not sent to Alipay"
    );
    {
        let mut w = wechat_state.lock().unwrap();
        w.takes_then_hangs = false;
        w.queries_down = false;
    }
    // The retry (same Idempotency-Key) settles it where it is, once WeChat Pay's
    // circuit lets a call through again: WeChat Pay has it.
    let settled = eventually("the unknown payment settled", async || {
        let r = create(order.clone(), "pay-lost").await;
        match r.status.as_u16() {
            503 => {
                assert_eq!(
                    r.body["error"]["code"], "PAYMENT_OUTCOME_UNKNOWN",
                    "{}",
                    r.body
                );
                None
            }
            _ => Some(r),
        }
    })
    .await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    assert_eq!(settled.body["provider"], "wechatpay");
    let no3 = settled.body["out_trade_no"].as_str().unwrap();
    assert!(wechat_state.lock().unwrap().orders.contains_key(no3));
    assert_eq!(
        alipay_state.lock().unwrap().calls.len(),
        alipay_calls,
        "still not at Alipay"
    );

    // The Alipay notification: "success", applied; tampered: "fail", nothing.
    let fields = [
        ("app_id", "2021000123456789"),
        ("notify_id", "n-2"),
        ("notify_type", "trade_status_sync"),
        ("out_trade_no", no2.as_str()),
        ("trade_no", "2026120122001400001"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", "88.88"),
        ("subject", "Iphone6 16G"),
        ("body", ""),
    ];
    let form = fake::alipay_notification(&alipay_signer, &fields);
    let form_headers = [(
        "Content-Type".to_string(),
        "application/x-www-form-urlencoded; charset=utf-8".to_string(),
    )];
    let forged = form.replace("total_amount=88.88", "total_amount=0.01");
    let (status, text) = notify(&server, "alipay", &form_headers, forged).await;
    assert_eq!((status, text.as_str()), (200, "fail"));
    let id2 = p2.body["id"].as_i64().unwrap();
    assert_eq!(
        server
            .get(&format!("/api/v1/integrations/payments/{id2}"), &admin)
            .await
            .body["status"],
        "pending"
    );
    let (status, text) = notify(&server, "alipay", &form_headers, form.clone()).await;
    assert_eq!((status, text.as_str()), (200, "success"));
    let (_, text) = notify(&server, "alipay", &form_headers, form).await;
    assert_eq!(text, "success", "a resend is acknowledged");
    assert_eq!(
        server
            .get(&format!("/api/v1/integrations/payments/{id2}"), &admin)
            .await
            .body["status"],
        "paid"
    );

    // Page pay (Alipay only): a signed redirect URL and form, no call.
    let page = create(json!({ "channel": "page", "amount": 19900, "description": "会员年卡", "return_url": "https://shop.example.com/back" }), "pay-3").await;
    assert_eq!(page.status, 201, "{}", page.body);
    assert!(page.body["client_data"]["url"]
        .as_str()
        .unwrap()
        .contains("method=alipay.trade.page.pay"));
    assert!(page.body["client_data"]["form"]["fields"]["biz_content"]
        .as_str()
        .unwrap()
        .contains("FAST_INSTANT_TRADE_PAY"));

    // WeChat Pay failing for a JSAPI payment (only it offers the channel): 503
    // PAYMENT_SERVICE_UNAVAILABLE, nothing taken anywhere.
    wechat_state.lock().unwrap().down = true;
    let none = create(
        json!({ "channel": "jsapi", "amount": 100, "description": "x", "openid": "o-1" }),
        "pay-4",
    )
    .await;
    none.assert_error(503, "PAYMENT_SERVICE_UNAVAILABLE");
    // Close a pending payment at its provider.
    wechat_state.lock().unwrap().down = false;
    let p5 = create(
        json!({ "channel": "h5", "amount": 100, "description": "x", "client_ip": "203.0.113.9" }),
        "pay-5",
    )
    .await;
    assert_eq!(p5.body["provider"], "wechatpay", "{}", p5.body);
    let closed = server
        .post(
            &format!("/api/v1/integrations/payments/{}/close", p5.body["id"]),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(closed.body["status"], "closed", "{}", closed.body);

    // Other tenants see none of it; bad input is refused.
    let (_, other) = server.tenant(&root, "pay-2").await;
    server
        .get(&format!("/api/v1/integrations/payments/{id}"), &other)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let bad = server
        .post(
            "/api/v1/integrations/payments",
            &admin,
            json!({ "channel": "qr", "amount": 0, "description": "" }),
        )
        .await;
    assert!(bad.assert_error(422, "VALIDATION_ERROR")["field_errors"]["amount"].is_array());
    server
        .post(
            "/api/v1/integrations/payments",
            &admin,
            json!({ "channel": "carrier-pigeon", "amount": 1, "description": "x" }),
        )
        .await
        .assert_error(400, "INVALID_REQUEST_BODY");
    assert_eq!(
        wechat_state.lock().unwrap().refused_signatures,
        0,
        "WeChat Pay accepted every signature"
    );

    let logs = server.logs();
    let apiv3 = fake::vector_keys("wechatpay", "01-native-prepay")["apiv3_key"]
        .as_str()
        .unwrap()
        .to_string();
    for secret in [apiv3.as_str(), "BEGIN PRIVATE KEY"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn wechatpay_certificate_mode_downloads_the_platform_certificate_once() {
    let wechat_state = Arc::new(Mutex::new(fake::Wechat {
        certificate_mode: true,
        ..Default::default()
    }));
    let wechat = fake::wechat(wechat_state.clone()).await;
    let (alipay, _) = fake::alipay(Arc::new(Mutex::new(fake::Alipay::default()))).await;
    let store = Store::new().await;
    let config = write_config(&store, &certificate_mode_yaml(&wechat.url, &alipay));
    let server = start(&store, &payment_env(&config)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "certs").await;

    // The first answer names a certificate not held: downloaded, decrypted, and the
    // answer believed; the second needs no download.
    let mut ids = Vec::new();
    for key in ["cert-1", "cert-2"] {
        let p = server
            .call_with(
                Method::POST,
                "/api/v1/integrations/payments",
                Some(&admin),
                Some(json!({ "channel": "qr", "amount": 100, "description": "证书模式" })),
                &[("Idempotency-Key", key)],
            )
            .await;
        assert_eq!(p.status, 201, "{}", p.body);
        assert_eq!(p.body["provider"], "wechatpay", "{}", p.body);
        ids.push((
            p.body["id"].as_i64().unwrap(),
            p.body["out_trade_no"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(wechat_state.lock().unwrap().certificate_downloads, 1);

    // A notification signed with that certificate is accepted.
    let (id, no) = &ids[0];
    let resource = fake::wechat_paid(no, "4200000000202612010000000013", 100);
    let (headers, body) = wechat.notification("TRANSACTION.SUCCESS", &resource);
    let (status, text) = notify(&server, "wechatpay", &headers, body).await;
    assert_eq!((status, text.as_str()), (200, ""));
    let paid = server
        .get(&format!("/api/v1/integrations/payments/{id}"), &admin)
        .await
        .body;
    assert_eq!(paid["status"], "paid", "{paid}");

    // Forgeries naming serials nobody holds are refused, and start at most one
    // download a minute between them (here: none, one ran just now).
    for n in 0..5 {
        let (headers, body) =
            wechat.notification_as(&format!("FORGED{n}"), "TRANSACTION.SUCCESS", &resource);
        let (status, _) = notify(&server, "wechatpay", &headers, body).await;
        assert_eq!(status, 500);
    }
    assert_eq!(wechat_state.lock().unwrap().certificate_downloads, 1);
}

#[tokio::test]
async fn wechatpay_a_certificate_download_signed_by_another_key_is_not_trusted() {
    let wechat_state = Arc::new(Mutex::new(fake::Wechat {
        certificate_mode: true,
        forge_certificate_list: true,
        ..Default::default()
    }));
    let wechat = fake::wechat(wechat_state.clone()).await;
    let (alipay, _) = fake::alipay(Arc::new(Mutex::new(fake::Alipay::default()))).await;
    let store = Store::new().await;
    let config = write_config(&store, &certificate_mode_yaml(&wechat.url, &alipay));
    let server = start(&store, &payment_env(&config)).await;

    // The download decrypts, but its signature is not the certificate's: the
    // certificate is not taken, so what it signs is refused.
    let resource = fake::wechat_paid("CERT-FORGED-1", "4200000000202612010000000099", 100);
    let (headers, body) = wechat.notification("TRANSACTION.SUCCESS", &resource);
    let (status, text) = notify(&server, "wechatpay", &headers, body).await;
    assert_eq!(status, 500, "{text}");
    assert_eq!(wechat_state.lock().unwrap().certificate_downloads, 1);
    assert!(
        server
            .logs()
            .contains("the download's signature does not hold"),
        "the refusal is logged with its reason"
    );
}
