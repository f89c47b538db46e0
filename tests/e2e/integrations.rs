//! Integrations end to end, against local fake providers that check every request the
//! way the provider does (`fake_providers.rs`): failover with breakers and one alert,
//! the durable SMS outbox across a restart and two replicas, payments with
//! query-before-failover, callbacks applied once (tampered ones refused), storage
//! failover and presigned URLs, captcha, live configuration with secrets masked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_providers as fake;
use crate::support::{eventually, start, Server, Store};

/// `integrations.yaml` in the store's directory; the env the server needs for it.
fn write_config(store: &Store, yaml: &str) -> String {
    let path = store.dir.path().join("integrations.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

fn sms_yaml(tencent: &str, aliyun: &str) -> String {
    format!(
        r#"
sms_phone_throttle: {{ per_minute: 100, per_day: 1000 }}
sms:
  tencent:
    priority: 1
    secret_id: "${{E2E_TENCENT_ID}}"
    secret_key: "${{E2E_TENCENT_KEY}}"
    sdk_app_id: "1400006666"
    sign_name: "店铺通知"
    endpoint: "{tencent}"
    templates:
      verify_code: {{ id: "1234567", params: [code, minutes] }}
  aliyun:
    priority: 2
    access_key_id: "${{E2E_ALIYUN_ID}}"
    access_key_secret: "${{E2E_ALIYUN_SECRET}}"
    sign_name: "店铺通知"
    endpoint: "{aliyun}"
    templates:
      verify_code: {{ code: SMS_154950909 }}
"#
    )
}

fn sms_env(config: &str) -> Vec<(&'static str, String)> {
    vec![
        ("INTEGRATIONS_CONFIG", config.to_string()),
        ("INTEGRATIONS_RELOAD_SECS", "1".into()),
        ("INTEGRATIONS_SMS_RETRY_SECS", "1".into()),
        ("E2E_TENCENT_ID", fake::TENCENT_ID.into()),
        ("E2E_TENCENT_KEY", fake::TENCENT_KEY.into()),
        ("E2E_ALIYUN_ID", fake::ALIYUN_ID.into()),
        ("E2E_ALIYUN_SECRET", fake::ALIYUN_SECRET.into()),
    ]
}

async fn send_sms(server: &Server, token: &str, phone: &str, id: &str) -> crate::support::Reply {
    server
        .post(
            "/api/v1/integrations/sms",
            token,
            json!({ "phone": phone, "template": "verify_code", "params": { "code": "8848", "minutes": 5 }, "message_id": id }),
        )
        .await
}

#[tokio::test]
async fn an_sms_outage_fails_over_opens_the_breaker_and_raises_one_alert() {
    let tencent_state = Arc::new(Mutex::new(fake::Sms {
        down: true,
        ..Default::default()
    }));
    let aliyun_state = Arc::new(Mutex::new(fake::Sms::default()));
    let tencent = fake::tencent_sms(tencent_state.clone()).await;
    let aliyun = fake::aliyun_sms(aliyun_state.clone()).await;
    let store = Store::new().await;
    let config = write_config(&store, &sms_yaml(&tencent, &aliyun));
    let mut env = sms_env(&config);
    env.push(("SHOPOPS_ALERT_EVAL_SECS", "1".into()));
    env.push(("SHOPOPS_ALERT_OUTSIDE_MIN_CALLS", "3".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "sms").await;

    for i in 0..8 {
        let r = send_sms(
            &server,
            &admin,
            &format!("1380000{i:04}"),
            &format!("fo-{i}"),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.body["status"], "sent", "{}", r.body);
        assert_eq!(r.body["provider"], "aliyun", "the next provider took it");
        assert_eq!(
            r.body["phone"],
            format!("+86138****{}", &format!("{i:04}")),
            "phone masked"
        );
    }
    assert_eq!(aliyun_state.lock().unwrap().sent.len(), 8);
    // Aliyun's delivery report (QuerySendDetails by BizId and the Beijing send date).
    let before = server.get("/api/v1/integrations/sms/fo-0", &admin).await;
    assert_eq!(before.body["delivery"], Value::Null, "not asked yet");
    let report = server
        .get("/api/v1/integrations/sms/fo-0?refresh=true", &admin)
        .await;
    assert_eq!(report.body["delivery"], "delivered", "{}", report.body);
    assert_eq!(
        report.body["delivery_detail"],
        "DELIVERED at 2026-12-01 12:00:05"
    );
    assert_eq!(
        aliyun_state.lock().unwrap().refused_signatures,
        0,
        "Aliyun accepted every signature"
    );
    // The breaker opened after 5 consecutive failures: Tencent was not asked again.
    assert_eq!(tencent_state.lock().unwrap().attempts, 5);
    let health = server.get("/api/v1/integrations/health", &admin).await.body;
    let t = health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tencent")
        .unwrap()
        .clone();
    assert_eq!(t["circuit"], "open", "{health}");
    assert_eq!(t["success_rate"], 0.0);

    // One alert for the fault (the module's rule; the kernel's rule stays out of it).
    let alerts = eventually("the provider alert", async || {
        let b = server
            .get(
                "/api/v1/alerts?rule=integration_provider_success_rate",
                &root,
            )
            .await
            .body;
        b["data"].as_array().filter(|d| !d.is_empty()).cloned()
    })
    .await;
    assert_eq!(
        alerts[0]["key"],
        "integration_provider_success_rate:sms.tencent"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = server
        .get(
            "/api/v1/alerts?rule=integration_provider_success_rate",
            &root,
        )
        .await
        .body;
    assert_eq!(
        again["data"].as_array().unwrap().len(),
        1,
        "one fault, one alert: {again}"
    );
    let outside = server
        .get("/api/v1/alerts?rule=outside_success_rate", &root)
        .await
        .body;
    assert_eq!(outside["data"], json!([]), "not alerted twice: {outside}");

    // A bad request is refused before anything is stored or sent.
    let bad = server
        .post(
            "/api/v1/integrations/sms",
            &admin,
            json!({ "phone": "12", "template": "x y" }),
        )
        .await;
    let d = bad.assert_error(422, "VALIDATION_ERROR");
    assert!(
        d["field_errors"]["phone"].is_array() && d["field_errors"]["template"].is_array(),
        "{d}"
    );
    // Another tenant does not see the messages.
    let (_, other) = server.tenant(&root, "sms-2").await;
    server
        .get("/api/v1/integrations/sms/fo-1", &other)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        server
            .get("/api/v1/integrations/sms/fo-1", &admin)
            .await
            .body["status"],
        "sent"
    );
}

#[tokio::test]
async fn an_sms_accepted_while_every_provider_is_down_is_sent_once_after_a_restart() {
    let tencent_state = Arc::new(Mutex::new(fake::Sms {
        down: true,
        ..Default::default()
    }));
    let aliyun_state = Arc::new(Mutex::new(fake::Sms {
        down: true,
        ..Default::default()
    }));
    let tencent = fake::tencent_sms(tencent_state.clone()).await;
    let aliyun = fake::aliyun_sms(aliyun_state.clone()).await;
    let store = Store::new().await;
    let config = write_config(&store, &sms_yaml(&tencent, &aliyun));
    let env = sms_env(&config);
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "outbox").await;
    let r = send_sms(&server, &admin, "13900000001", "outage-1").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "pending", "queued, not lost: {}", r.body);
    assert!(
        r.body["last_error"].as_str().unwrap().contains("tencent"),
        "{}",
        r.body
    );
    // The same message again is the same message.
    let again = send_sms(&server, &admin, "13900000001", "outage-1").await;
    assert_eq!(again.body["message_id"], "outage-1");
    drop(server);

    // The providers come back while no server runs; two replicas then start together,
    // following delivery reports every second.
    tencent_state.lock().unwrap().down = false;
    aliyun_state.lock().unwrap().down = false;
    let mut env = env;
    env.push(("INTEGRATIONS_SMS_REPORT_SECS", "1".into()));
    let a = start(&store, &env).await;
    let b = start(&store, &env).await;
    let token = a.token(Some("outbox"), "admin", "admin-password").await;
    let sent = eventually("delivery after the restart", async || {
        let m = a
            .get("/api/v1/integrations/sms/outage-1", &token)
            .await
            .body;
        (m["status"] == "sent").then_some(m)
    })
    .await;
    assert_eq!(sent["provider"], "tencent", "back to the first provider");

    // The delivery report, from the provider that sent it (Tencent's receipts), asked
    // by the replicas' job without anyone asking for it.
    let report = eventually("the delivery report", async || {
        let m = a
            .get("/api/v1/integrations/sms/outage-1", &token)
            .await
            .body;
        (m["delivery"] != Value::Null).then_some(m)
    })
    .await;
    assert_eq!(report["delivery"], "delivered", "{report}");
    assert_eq!(
        report["delivery_detail"],
        "SUCCESS DELIVRD at 2026-12-01 12:00:05"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deliveries: Vec<_> = tencent_state
        .lock()
        .unwrap()
        .sent
        .iter()
        .chain(aliyun_state.lock().unwrap().sent.iter())
        .filter(|(id, _)| id == "outage-1")
        .cloned()
        .collect();
    assert_eq!(
        deliveries.len(),
        1,
        "exactly once across the restart and both replicas: {deliveries:?}"
    );
    assert_eq!(deliveries[0].1, "+8613900000001");
    assert_eq!(
        tencent_state.lock().unwrap().report_queries,
        1,
        "asked once by two replicas, and not again after a final report"
    );
    let mut counted = 0.0;
    for server in [&a, &b] {
        let metrics = server.metrics().await;
        counted += metrics
            .lines()
            .filter(|l| l.starts_with("integration_sms_reports_total{"))
            .filter(|l| l.contains(r#"outcome="delivered""#) && l.contains(r#"provider="tencent""#))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    assert_eq!(counted, 1.0, "integration_sms_reports_total, both replicas");
    drop(b);
}

#[tokio::test]
async fn sms_budgets_throttles_and_a_slow_provider_alert() {
    let tencent_state = Arc::new(Mutex::new(fake::Sms {
        delay: Duration::from_millis(200),
        ..Default::default()
    }));
    let aliyun_state = Arc::new(Mutex::new(fake::Sms::default()));
    let tencent = fake::tencent_sms(tencent_state.clone()).await;
    let aliyun = fake::aliyun_sms(aliyun_state.clone()).await;
    let store = Store::new().await;
    // Tencent may send 2 a day; a number gets 1 a day. Day windows, so the test
    // does not straddle a minute boundary.
    let yaml = sms_yaml(&tencent, &aliyun)
        .replace(
            "sms_phone_throttle: { per_minute: 100, per_day: 1000 }",
            "sms_phone_throttle: { per_minute: 0, per_day: 1 }",
        )
        .replace(
            &format!("    endpoint: \"{tencent}\""),
            &format!("    endpoint: \"{tencent}\"\n    limits: {{ per_day: 2 }}"),
        );
    assert!(yaml.contains("limits: { per_day: 2 }"), "{yaml}");
    let config = write_config(&store, &yaml);
    let mut env = sms_env(&config);
    env.push(("SHOPOPS_ALERT_EVAL_SECS", "1".into()));
    env.push(("SHOPOPS_ALERT_OUTSIDE_MIN_CALLS", "2".into()));
    env.push(("SHOPOPS_ALERT_OUTSIDE_LATENCY_MS", "100".into()));
    let server = start(&store, &env).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "budget").await;

    // Tencent's daily budget: two messages, then Aliyun takes the third.
    let mut providers = Vec::new();
    for (i, phone) in ["13600000001", "13600000002", "13600000003"]
        .iter()
        .enumerate()
    {
        let r = send_sms(&server, &admin, phone, &format!("budget-{i}")).await;
        assert_eq!(r.status, 202, "{}", r.body);
        providers.push(r.body["provider"].as_str().unwrap().to_string());
    }
    assert_eq!(providers, ["tencent", "tencent", "aliyun"]);
    assert_eq!(tencent_state.lock().unwrap().sent.len(), 2);

    // The number's own limit: refused before anything is stored or sent.
    let again = send_sms(&server, &admin, "13600000001", "budget-again").await;
    assert!(
        again.assert_error(429, "SMS_THROTTLED")["retry_after"]
            .as_i64()
            .unwrap()
            > 0
    );
    server
        .get("/api/v1/integrations/sms/budget-again", &admin)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        tencent_state.lock().unwrap().attempts + aliyun_state.lock().unwrap().attempts,
        3
    );

    // Tencent answered every call, slowly: its latency is shown and alerted, its
    // success rate is not.
    let health = server.get("/api/v1/integrations/health", &admin).await.body;
    let t = health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tencent")
        .unwrap()
        .clone();
    assert!(t["average_latency_ms"].as_f64().unwrap() >= 200.0, "{t}");
    assert_eq!(t["success_rate"], 1.0, "{t}");
    let alerts = eventually("the latency alert", async || {
        let b = server
            .get("/api/v1/alerts?rule=integration_provider_latency", &root)
            .await
            .body;
        b["data"].as_array().filter(|d| !d.is_empty()).cloned()
    })
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["key"], "integration_provider_latency:sms.tencent");
    let rate = server
        .get(
            "/api/v1/alerts?rule=integration_provider_success_rate",
            &root,
        )
        .await
        .body;
    assert_eq!(rate["data"], json!([]), "{rate}");
}

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

fn storage_yaml(cos: &str, root: &str) -> String {
    format!(
        r#"
storage:
  cos:
    priority: 1
    secret_id: "{}"
    secret_key: "{}"
    bucket: "examplebucket-1250000000"
    region: "ap-guangzhou"
    endpoint: "{cos}"
  local:
    priority: 2
    root: "{root}"
captcha:
  chaojiying:
    user: "{}"
    password: "{}"
    softid: "96001"
    endpoint: "{{CJY}}"
"#,
        fake::COS_ID,
        fake::COS_KEY,
        fake::CJY_USER,
        fake::CJY_PASSWORD
    )
}

#[tokio::test]
async fn storage_fails_over_presigns_and_captcha_recognises() {
    let cos_state = Arc::new(Mutex::new(fake::Cos::default()));
    let cos = fake::cos(cos_state.clone()).await;
    let cjy = fake::chaojiying().await;
    let store = Store::new().await;
    let root_dir = store.dir.path().join("files");
    let yaml = storage_yaml(&cos, &root_dir.display().to_string()).replace("{CJY}", &cjy);
    let config = write_config(&store, &yaml);
    let server = start(
        &store,
        &[
            ("INTEGRATIONS_CONFIG", config),
            ("INTEGRATIONS_RELOAD_SECS", "1".into()),
        ],
    )
    .await;
    let root = server.root_token().await;
    let (tenant, admin) = server.tenant(&root, "files").await;
    let put = |key: &str, body: &'static [u8]| {
        let (server, admin, key) = (&server, &admin, key.to_string());
        async move {
            let res = server
                .http
                .put(format!(
                    "{}/api/v1/integrations/storage/objects/{key}",
                    server.base
                ))
                .bearer_auth(admin)
                .header("Content-Type", "image/png")
                .body(body)
                .send()
                .await
                .unwrap();
            crate::support::Reply::from_response(res).await
        }
    };
    let get = |key: &str| {
        let (server, admin, key) = (&server, &admin, key.to_string());
        async move {
            server
                .http
                .get(format!(
                    "{}/api/v1/integrations/storage/objects/{key}",
                    server.base
                ))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
        }
    };

    let r = put("商品/主图 1.png", b"\x89PNG-one").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["provider"], "cos");
    assert!(
        cos_state
            .lock()
            .unwrap()
            .objects
            .contains_key(&format!("/tenants/{tenant}/商品/主图 1.png")),
        "under the tenant's prefix"
    );
    let got = get("商品/主图 1.png").await;
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"\x89PNG-one");

    // COS down: the next store takes the write, and reads find it there.
    cos_state.lock().unwrap().down = true;
    let r = put("banner.png", b"\x89PNG-two").await;
    assert_eq!(r.body["provider"], "local", "{}", r.body);
    assert!(root_dir
        .join(format!("tenants/{tenant}/banner.png"))
        .exists());
    let got = get("banner.png").await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["x-storage-provider"], "local");
    // Reading what only COS has while it is down: 503, not 404.
    get("商品/主图 1.png")
        .await
        .status()
        .as_u16()
        .eq(&503)
        .then_some(())
        .expect("503 while the store that may have it is down");

    // A presigned URL of the local store works without a token, until it expires.
    let p = server
        .post(
            "/api/v1/integrations/storage/presign",
            &admin,
            json!({ "key": "banner.png", "method": "GET", "expires_secs": 60 }),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let url = p.body["url"].as_str().unwrap().to_string();
    let direct = server
        .http
        .get(format!("{}{url}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.bytes().await.unwrap().as_ref(), b"\x89PNG-two");
    let forged = url.replace("method=GET", "method=PUT");
    assert_eq!(
        server
            .http
            .get(format!("{}{forged}", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // COS back: a presigned COS URL the fake accepts.
    cos_state.lock().unwrap().down = false;
    let cos_url = eventually("the COS breaker closing", async || {
        let p = server
            .post(
                "/api/v1/integrations/storage/presign",
                &admin,
                json!({ "key": "商品/主图 1.png", "method": "GET" }),
            )
            .await;
        (p.body["provider"] == "cos").then(|| p.body["url"].as_str().unwrap().to_string())
    })
    .await;
    let fetched = server.http.get(cos_url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), b"\x89PNG-one");

    // Keys cannot escape the tenant's prefix; other tenants see nothing.
    let escape = put("../other/x.png", b"x").await;
    assert!(
        escape.status == 422 || escape.status == 404,
        "{}",
        escape.status
    );
    let (_, other) = server.tenant(&root, "files-2").await;
    let res = server
        .http
        .get(format!(
            "{}/api/v1/integrations/storage/objects/banner.png",
            server.base
        ))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let deleted = server
        .call(
            Method::DELETE,
            "/api/v1/integrations/storage/objects/banner.png",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(get("banner.png").await.status(), 404);
    assert_eq!(
        cos_state.lock().unwrap().refused_signatures,
        0,
        "COS accepted every signature"
    );

    // Captcha through Chaojiying (the fake checks the MD5 password).
    use base64::Engine;
    let image = base64::engine::general_purpose::STANDARD.encode(b"GIF89a-captcha");
    let c = server
        .post(
            "/api/v1/integrations/captcha/recognize",
            &admin,
            json!({ "image_base64": image, "codetype": "1902" }),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(
        (c.body["provider"].as_str(), c.body["answer"].as_str()),
        (Some("chaojiying"), Some("8vka"))
    );
    assert_eq!(c.body["pic_id"], "chaojiying:1662228516102");
    let report = |token: &str| {
        let token = token.to_string();
        let server = &server;
        let pic_id = c.body["pic_id"].clone();
        async move {
            server
                .post(
                    "/api/v1/integrations/captcha/report",
                    &token,
                    json!({ "pic_id": pic_id }),
                )
                .await
        }
    };
    // The provider account is shared: another tenant cannot report this tenant's answer.
    let (_, stranger) = server.tenant(&root, "captcha-stranger").await;
    report(&stranger)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let rep = report(&admin).await;
    assert_eq!(rep.status, 204, "{}", rep.body);
    report(&admin)
        .await
        .assert_error(409, "CAPTCHA_ALREADY_REPORTED");
    let bal = server
        .get("/api/v1/integrations/captcha/balance", &admin)
        .await
        .body;
    assert_eq!(bal[0]["points"], 821690);
}

#[tokio::test]
async fn an_s3_store_takes_signed_writes_reads_deletes_and_presigned_urls() {
    let s3_state = Arc::new(Mutex::new(fake::S3::default()));
    let s3 = fake::s3(s3_state.clone()).await;
    let store = Store::new().await;
    let yaml = format!(
        r#"
storage:
  s3:
    access_key_id: "{}"
    secret_access_key: "{}"
    bucket: "shopops-e2e"
    region: "{}"
    endpoint: "{s3}"
    path_style: true
"#,
        fake::S3_ID,
        fake::S3_SECRET,
        fake::S3_REGION
    );
    let config = write_config(&store, &yaml);
    let server = start(&store, &[("INTEGRATIONS_CONFIG", config)]).await;
    let root = server.root_token().await;
    let (tenant, admin) = server.tenant(&root, "s3").await;
    // A key with CJK, a space and a plus: signed over the encoded path S3 sees.
    let key = "商品/主图 1+2.png";
    let object = format!("{}/api/v1/integrations/storage/objects/{key}", server.base);
    let read = || server.http.get(&object).bearer_auth(&admin).send();
    let res = server
        .http
        .put(&object)
        .bearer_auth(&admin)
        .header("Content-Type", "image/png")
        .body(&b"\x89PNG-s3"[..])
        .send()
        .await
        .unwrap();
    let put = crate::support::Reply::from_response(res).await;
    assert_eq!(put.status, 201, "{}", put.body);
    assert_eq!(put.body["provider"], "s3");
    let stored = format!("/shopops-e2e/tenants/{tenant}/{key}");
    assert_eq!(
        s3_state
            .lock()
            .unwrap()
            .objects
            .get(&stored)
            .map(|(ct, b)| (ct.clone(), b.clone())),
        Some(("image/png".to_string(), b"\x89PNG-s3".to_vec()))
    );
    let got = read().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"\x89PNG-s3");

    // A presigned GET works at S3 with no token; changed, it is refused.
    let presign = |method: &'static str| {
        let (server, admin) = (&server, &admin);
        async move {
            let p = server
                .post(
                    "/api/v1/integrations/storage/presign",
                    admin,
                    json!({ "key": key, "method": method, "expires_secs": 300 }),
                )
                .await;
            assert_eq!(p.status, 200, "{}", p.body);
            assert_eq!(p.body["provider"], "s3");
            p.body["url"].as_str().unwrap().to_string()
        }
    };
    let url = presign("GET").await;
    assert!(url.starts_with(&s3), "{url}");
    let direct = server.http.get(&url).send().await.unwrap();
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.bytes().await.unwrap().as_ref(), b"\x89PNG-s3");
    let longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    let refused = server.http.get(&longer).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("SignatureDoesNotMatch"));
    assert_eq!(s3_state.lock().unwrap().refused_signatures, 1);

    // A presigned PUT: the browser uploads straight to S3; we read it back.
    let url = presign("PUT").await;
    let upload = server
        .http
        .put(&url)
        .body(&b"\x89PNG-direct"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 200);
    let got = read().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"\x89PNG-direct");

    // Deleted at S3, then not found.
    let deleted = server
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/storage/objects/{key}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(s3_state.lock().unwrap().objects.is_empty());
    let gone = read().await.unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(s3_state.lock().unwrap().refused_signatures, 1);
}

#[tokio::test]
async fn providers_change_live_and_their_secrets_never_show() {
    let tencent_state = Arc::new(Mutex::new(fake::Sms::default()));
    let aliyun_state = Arc::new(Mutex::new(fake::Sms::default()));
    let tencent = fake::tencent_sms(tencent_state.clone()).await;
    let aliyun = fake::aliyun_sms(aliyun_state.clone()).await;
    let store = Store::new().await;
    let config = write_config(&store, &sms_yaml(&tencent, &aliyun));
    let server = start(&store, &sms_env(&config)).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "live").await;

    let providers = server.get("/api/v1/integrations/providers", &root).await;
    assert_eq!(providers.status, 200, "{}", providers.body);
    let text = providers.body.to_string();
    assert!(
        !text.contains(fake::TENCENT_KEY) && !text.contains(fake::ALIYUN_SECRET),
        "{text}"
    );
    assert_eq!(providers.body[0]["settings"]["secret_key"], "***", "{text}");
    assert_eq!(
        providers.body[1]["settings"]["access_key_secret"], "***",
        "{text}"
    );
    // Tenant admins cannot change the platform's providers.
    server
        .call(
            Method::PUT,
            "/api/v1/integrations/providers/sms/tencent",
            Some(&admin),
            Some(json!({ "enabled": false })),
        )
        .await
        .assert_error(403, "INSUFFICIENT_PERMISSIONS");

    // Through the API: Tencent off, live.
    let r = server
        .call(
            Method::PUT,
            "/api/v1/integrations/providers/sms/tencent",
            Some(&root),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["enabled"], false);
    let s = send_sms(&server, &admin, "13700000001", "live-1").await;
    assert_eq!(s.body["provider"], "aliyun", "{}", s.body);
    server
        .call(
            Method::PUT,
            "/api/v1/integrations/providers/sms/nobody",
            Some(&root),
            Some(json!({ "enabled": true })),
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    // A number past its declared range (here one a 32-bit client could send) is
    // refused, not stored.
    for (field, value) in [("priority", 2_147_483_648_u64), ("per_minute", 100_001)] {
        server
            .call(
                Method::PUT,
                "/api/v1/integrations/providers/sms/tencent",
                Some(&root),
                Some(json!({ field: value })),
            )
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }

    // Through the file: Aliyun first now (the override on Tencent stays).
    let yaml = sms_yaml(&tencent, &aliyun).replace("priority: 2", "priority: 0");
    std::fs::write(&config, yaml).unwrap();
    eventually("the file reload", async || {
        let h = server.get("/api/v1/integrations/health", &admin).await.body;
        h["providers"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == "aliyun" && p["priority"] == 0)
            .cloned()
    })
    .await;
    // A broken file is refused and reported; the providers in force stay.
    std::fs::write(
        &config,
        "sms:\n  tencent:\n    secret_id: \"${E2E_NOT_SET}\"\n",
    )
    .unwrap();
    let h = eventually("the refused reload", async || {
        let h = server.get("/api/v1/integrations/health", &admin).await.body;
        h["reload_error"].as_str().map(|_| h.clone())
    })
    .await;
    assert!(
        h["reload_error"]
            .as_str()
            .unwrap()
            .contains("sms.tencent.secret_id: environment variable `E2E_NOT_SET` is not set"),
        "{h}"
    );
    let s = send_sms(&server, &admin, "13700000002", "live-2").await;
    assert_eq!(s.body["status"], "sent", "{}", s.body);

    let logs = server.logs();
    for secret in [fake::TENCENT_KEY, fake::ALIYUN_SECRET, "13700000001"] {
        assert!(!logs.contains(secret), "`{secret}` reached the logs");
    }
}
