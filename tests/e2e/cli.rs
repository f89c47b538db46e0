//! The operator commands: config errors, admin create, migrate status, openapi.

use crate::support::{run_cli, Server, Store};

#[tokio::test]
async fn a_bad_config_value_stops_start_with_a_message_naming_the_key() {
    let store = Store::new().await;
    let mut cmd = crate::support::command(&store);
    cmd.env("SHOPOPS_LOGIN_MAX_FAILURES", "many")
        .env("SHOPOPS_JWT_SECRET", "short-secret-value");
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SHOPOPS_LOGIN_MAX_FAILURES") || err.contains("SHOPOPS_JWT_SECRET"),
        "{err}"
    );
    assert!(
        !err.contains("short-secret-value"),
        "a secret was printed: {err}"
    );
}

#[tokio::test]
async fn admin_create_migrate_status_and_openapi() {
    let store = Store::new().await;
    let (code, out, err) = run_cli(
        &store,
        &["admin", "create", "--superadmin", "--username", "ops"],
        Some("ops-password-1\n"),
    );
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("created superadmin ops"));
    let (code, _, err) = run_cli(
        &store,
        &["admin", "create", "--superadmin", "--username", "ops"],
        Some("ops-password-1\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("USERNAME_TAKEN"), "{err}");

    let (code, out, _) = run_cli(&store, &["migrate", "status"], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("applied  m20261121_000001_kernel_identity"),
        "{out}"
    );
    assert!(!out.contains("pending"), "{out}");

    let server = Server::start(&store).await;
    assert_eq!(
        server.login(None, "ops", "ops-password-1").await.status,
        200
    );

    let (code, out, _) = run_cli(&store, &["openapi"], None);
    assert_eq!(code, 0);
    let printed: serde_json::Value = serde_json::from_str(&out).expect("openapi prints JSON");
    let served: serde_json::Value = server
        .http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(printed, served);
}

#[test]
fn kuaishou_dry_run_and_catalogue_need_no_configuration() {
    let vector = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../modules/kuaishou/tests/fixtures/vectors/order_note_add_chinese.json"
    );
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector).unwrap()).unwrap();
    let out = std::process::Command::new(crate::support::binary())
        .env_clear()
        .args(["kuaishou", "sign", "--vector", vector])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ours["sign"], recorded["sign"]);
    assert_eq!(ours["sign_string"], recorded["sign_string"]);
    assert_eq!(ours["raw_body"], recorded["request"]["raw_body"]);

    let out = std::process::Command::new(crate::support::binary())
        .env_clear()
        .args(["kuaishou", "methods", "--json"])
        .output()
        .unwrap();
    let methods: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(methods.as_array().unwrap().len(), 359);
    assert!(methods
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["http_method"] == "GET" || m["http_method"] == "POST"));

    let bad = std::process::Command::new(crate::support::binary())
        .env_clear()
        .args(["kuaishou", "sign", "--vector", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent.json"));
}

#[test]
fn integrations_dry_run_reproduces_a_provider_vector_without_configuration() {
    let vector = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../modules/integrations/tests/fixtures/vectors/alipay/01-trade-precreate.json"
    );
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vector).unwrap()).unwrap();
    let out = std::process::Command::new(crate::support::binary())
        .env_clear()
        .args(["integrations", "sign", "--vector", vector])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ours["sign"], recorded["expected"]["sign"]);
    assert_eq!(ours["query_params"], recorded["expected"]["query_params"]);
    assert_eq!(ours["body_params"], recorded["expected"]["body_params"]);

    let not_a_vector = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_vector.path(), r#"{"provider":"nobody"}"#).unwrap();
    let bad = std::process::Command::new(crate::support::binary())
        .env_clear()
        .args(["integrations", "sign", "--vector"])
        .arg(not_a_vector.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&bad.stderr).is_empty());
}
