//! Integrations end to end, against local fake providers that check every request the
//! way the provider does (`fake_providers/`): providers changed live with their
//! secrets masked, and the helpers the `integrations_*` files share (`sms`, `payments`,
//! `storage`).

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;

use crate::fake_providers as fake;
use crate::support::{eventually, start, Server, Store};

/// `integrations.yaml` in the store's directory; the env the server needs for it.
pub(crate) fn write_config(store: &Store, yaml: &str) -> String {
    let path = store.dir.path().join("integrations.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

pub(crate) fn sms_yaml(tencent: &str, aliyun: &str) -> String {
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

pub(crate) fn sms_env(config: &str) -> Vec<(&'static str, String)> {
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

pub(crate) async fn send_sms(
    server: &Server,
    token: &str,
    phone: &str,
    id: &str,
) -> crate::support::Reply {
    server
        .post(
            "/api/v1/integrations/sms",
            token,
            json!({ "phone": phone, "template": "verify_code", "params": { "code": "8848", "minutes": 5 }, "message_id": id }),
        )
        .await
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
