//! SMS end to end, against local fake Tencent and Aliyun: failover with breakers and one
//! alert, the durable outbox across a restart and two replicas, budgets and throttles.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_providers as fake;
use crate::integrations::{send_sms, sms_env, sms_yaml, write_config};
use crate::support::{eventually, start, Store};

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
