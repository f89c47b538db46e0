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
    let (code, out, err) = run_cli(&store, &["migrate", "up"], None);
    assert_eq!(code, 0, "{out} {err}");
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

#[tokio::test]
async fn tools_that_read_data_refuse_a_missing_or_unmigrated_database() {
    let store = Store::new().await;
    let db_file = store.dir.path().join("shopops.db");
    for args in [
        &["points", "verify"][..],
        &["points", "expire"],
        &["audit", "verify"],
        &["migrate", "status"],
        &["migrate", "down"],
        &["admin", "create", "--superadmin", "--username", "ops"],
    ] {
        let (code, out, err) = run_cli(&store, args, Some("ops-password-1\n"));
        if store.database_url.is_none() {
            assert_eq!(code, 2, "{args:?}: {out} {err}");
            assert!(err.contains("no database"), "{args:?}: {err}");
            assert!(err.contains("SHOPOPS_DATA_DIR"), "{args:?}: {err}");
            assert!(!err.contains("retry later"), "{args:?}: {err}");
            assert!(!db_file.exists(), "{args:?} created a database");
        }
    }
    // A database that exists but is not migrated is refused too, saying what to run.
    let (code, _, _) = run_cli(&store, &["migrate", "up"], None);
    assert_eq!(code, 0);
    let (code, _, _) = run_cli(&store, &["migrate", "down"], None);
    assert_eq!(code, 0);
    let (code, _, err) = run_cli(&store, &["points", "expire"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("shopops migrate up"), "{err}");
    let (code, out, _) = run_cli(&store, &["migrate", "up"], None);
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = run_cli(&store, &["points", "expire"], None);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("expired 0 lots"), "{out}");
}

#[test]
fn every_command_and_option_explains_itself() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(crate::support::binary())
            .env_clear()
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = help(&[]);
    for name in ["SHOPOPS_DATA_DIR", "DATABASE_URL", "./data"] {
        assert!(top.contains(name), "{top}");
    }
    for (args, says) in [
        (&["migrate", "up"][..], "creating the database"),
        (&["migrate", "down"], "Roll back"),
        (&["migrate", "status"], "applied and pending"),
        (&["points", "verify"], "ledger"),
        (&["kuaishou", "sync"], "--shop"),
    ] {
        let text = help(args);
        assert!(text.contains(says), "{args:?}: {text}");
    }
    // Every option of a command has a help line of its own.
    let admin = help(&["admin", "create"]);
    for option in ["--superadmin", "--username"] {
        let line = admin
            .lines()
            .find(|l| l.trim_start().starts_with(option))
            .unwrap_or_default();
        assert!(line.trim().len() > option.len() + 10, "{option}: {admin}");
    }
}

/// `(section, key, env, documented default)` of every key docs/configuration.md
/// documents; section `""` is the kernel's (top level of the file).
fn documented_keys() -> Vec<(String, String, String, String)> {
    let doc = include_str!("../../docs/configuration.md");
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line
            .strip_prefix("### ")
            .or_else(|| line.strip_prefix("#### "))
        {
            // A module's heading names its section: `… a `[kuaishou]` section …`.
            // Templated tables (`[cs.llm.providers.<name>]`) name their keys by a
            // placeholder; their own unit tests check them, so they are skipped here.
            section = heading
                .split_once("`[")
                .and_then(|(_, rest)| rest.split_once("]`"))
                .map(|(name, _)| name.to_string())
                .unwrap_or_default();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if section.contains('<')
            || cells.len() < 5
            || !cells[1].starts_with('`')
            || !cells[2].starts_with('`')
        {
            continue;
        }
        let names = |cell: &str| -> Vec<String> {
            cell.split(" / ")
                .map(|n| n.trim_matches('`').to_string())
                .collect()
        };
        let (key_names, mut env_names) = (names(cells[1]), names(cells[2]));
        // `SHOPOPS_ALERT_DINGTALK_URL` / `_SECRET`: the second shares the first's stem.
        if env_names.len() == 2 && env_names[1].starts_with('_') {
            let stem = env_names[0]
                .rsplit_once('_')
                .map(|(s, _)| s)
                .unwrap_or_default()
                .to_string();
            env_names[1] = format!("{stem}{}", env_names[1]);
        }
        // The default's first `code` span, when it has one.
        let default = cells[3].split('`').nth(1).unwrap_or_default().to_string();
        for (key, env) in key_names.into_iter().zip(env_names) {
            keys.push((section.clone(), key, env, default.clone()));
        }
    }
    keys
}

/// A valid value for a documented key, as TOML: a sample where the docs give no
/// default (or one that needs this test's folders), else the documented default.
fn sample(key: &str, default: &str, dir: &std::path::Path) -> String {
    let text = |s: &str| format!("\"{s}\"");
    match key {
        "bind" => text("127.0.0.1:0"),
        "data_dir" => text(&dir.display().to_string()),
        "database_url" => text(&format!("sqlite://{}/sample.db?mode=rwc", dir.display())),
        "redis_url" => text("redis://127.0.0.1:6379"),
        "bootstrap_admin" => text("root:a-long-password"),
        "jwt_secret" => text("0123456789abcdef0123456789abcdef-sample"),
        "pii_keys" => text("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        "pii_index_key" => text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        "log_format" => text("json"),
        "log_level" => text("info"),
        "error_docs_url" => text("/docs/errors"),
        "default_language" => text("en"),
        "cors_allowed_origins" => text("https://admin.example.com"),
        "rate_limit_buckets" => text("points_operations=800"),
        "alert_smtp_server" => text("smtp.example.com"),
        "alert_smtp_tls" => text("starttls"),
        "alert_smtp_ca_file" => text("/etc/ssl/certs/ca.pem"),
        "alert_email_username" | "alert_email_from" | "alert_email_to" => text("ops@example.com"),
        "alert_webhook_type" => text("generic"),
        k if k.ends_with("_url") => text("https://hooks.example.com/robot"),
        k if k.ends_with("_secret") || k.ends_with("_password") || k.ends_with("_key") => {
            text("sample-secret-value")
        }
        "config" => text(&dir.join("integrations.yaml").display().to_string()),
        "redirect_uri" | "public_base_url" => text("https://shop.example.com/cb"),
        _ if default.parse::<f64>().is_ok() || default == "true" || default == "false" => {
            default.to_string()
        }
        _ => text(default),
    }
}

#[tokio::test]
async fn every_documented_key_works_from_the_file_and_from_the_environment() {
    let store = Store::new().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = documented_keys();
    assert!(keys.len() > 80, "only {} keys parsed", keys.len());
    let mut file = String::new();
    let mut sections: Vec<&str> = keys.iter().map(|(s, ..)| s.as_str()).collect();
    sections.dedup();
    assert!(sections.contains(&"cs"), "{sections:?}");
    for section in sections {
        if !section.is_empty() {
            file.push_str(&format!("\n[{section}]\n"));
        }
        for (s, key, _, default) in &keys {
            if s == section {
                file.push_str(&format!("{key} = {}\n", sample(key, default, dir.path())));
            }
        }
    }
    let path = dir.path().join("shopops.toml");
    std::fs::write(&path, &file).unwrap();
    let check = |envs: &[(String, String)]| {
        let mut cmd = crate::support::command(&store);
        cmd.args(["config", "check"]).envs(envs.iter().cloned());
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let with_file = [("SHOPOPS_CONFIG".to_string(), path.display().to_string())];
    let (code, out) = check(&with_file);
    assert_eq!(code, 0, "{out}\n{file}");

    // The same keys from the environment, each under its documented name.
    let envs: Vec<(String, String)> = keys
        .iter()
        .map(|(_, key, env, default)| {
            (
                env.clone(),
                sample(key, default, dir.path())
                    .trim_matches('"')
                    .to_string(),
            )
        })
        .collect();
    let (code, out) = check(&envs);
    assert_eq!(code, 0, "{out}");

    // A misspelt key, in the file or the environment, stops the start naming it.
    std::fs::write(
        &path,
        "bind = \"127.0.0.1:9000\"\nrate_limit_enable = false\n",
    )
    .unwrap();
    let (code, out) = check(&with_file);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("rate_limit_enable"), "{out}");
    let (code, out) = check(&[("SHOPOPS_RATE_LIMIT_ENABLE".into(), "false".into())]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("SHOPOPS_RATE_LIMIT_ENABLE"), "{out}");
    std::fs::write(&path, "[kuaishou]\napp_kee = \"x\"\n").unwrap();
    let (code, out) = check(&with_file);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("kuaishou.app_kee"), "{out}");
    // The file the docs show starts the server.
    std::fs::write(&path, "bind = \"127.0.0.1:9000\"\n").unwrap();
    let (code, out) = check(&with_file);
    assert_eq!(code, 0, "{out}");
}
