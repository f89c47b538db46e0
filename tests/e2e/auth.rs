//! Sign-in, token validation, refresh rotation and reuse detection, logout, lockout,
//! API tokens.

use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::support::{Server, Store, JWT_SECRET, ROOT_PASSWORD, ROOT_USER};

fn claims(exp_offset: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": "1", "tid": 0, "usr": "root", "sid": "forged", "iat": now - 100, "exp": now + exp_offset, "typ": "access" })
}

#[tokio::test]
async fn expired_tampered_and_alg_none_tokens_are_rejected() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());

    let valid = encode(&Header::default(), &claims(60), &key).unwrap();
    assert_eq!(
        server.get("/api/v1/me", &valid).await.status,
        200,
        "a well-signed token works"
    );

    let expired = encode(&Header::default(), &claims(-10), &key).unwrap();
    let r = server.get("/api/v1/me", &expired).await;
    let d = r.assert_error(401, "INVALID_TOKEN");
    assert_eq!(d["token_expired"], json!(true));
    assert_eq!(d["refresh_token_available"], json!(true));
    assert!(d["expiry_time"].is_string());

    let wrong_key = encode(
        &Header::default(),
        &claims(60),
        &EncodingKey::from_secret(b"not-the-server-secret-0123456789"),
    )
    .unwrap();
    let d = server.get("/api/v1/me", &wrong_key).await;
    assert_eq!(
        d.assert_error(401, "INVALID_TOKEN")["token_expired"],
        json!(false)
    );

    // Claims edited after signing (tenant switched).
    let parts: Vec<&str> = valid.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = String::from_utf8(b64.decode(parts[1]).unwrap())
        .unwrap()
        .replace("\"tid\":0", "\"tid\":7");
    let tampered = format!("{}.{}.{}", parts[0], b64.encode(payload), parts[2]);
    server
        .get("/api/v1/me", &tampered)
        .await
        .assert_error(401, "INVALID_TOKEN");

    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    server
        .get("/api/v1/me", &none)
        .await
        .assert_error(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let first = server.login(None, ROOT_USER, ROOT_PASSWORD).await.body;
    assert_eq!(first["token_type"], "Bearer");
    assert!(first["expires_in"].as_u64().unwrap() > 0);
    let refresh = |t: &str| {
        server.call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": t })),
        )
    };

    let second = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.body;
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let access2 = second["access_token"].as_str().unwrap();
    assert_eq!(server.get("/api/v1/me", access2).await.status, 200);

    // The rotated token presented again: reuse. The whole family dies.
    let reuse = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        reuse.assert_error(401, "INVALID_TOKEN")["reason"],
        "refresh_token_reused"
    );
    let after = refresh(second["refresh_token"].as_str().unwrap()).await;
    after.assert_error(401, "INVALID_TOKEN");
    let r = server.get("/api/v1/me", access2).await;
    assert_eq!(
        r.assert_error(401, "INVALID_TOKEN")["reason"],
        "session_revoked"
    );

    // Another login is a separate family and still works.
    let other = server.root_token().await;
    assert_eq!(server.get("/api/v1/me", &other).await.status, 200);

    refresh("never-issued")
        .await
        .assert_error(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let pair = server.login(None, ROOT_USER, ROOT_PASSWORD).await.body;
    let access = pair["access_token"].as_str().unwrap();
    let r = server
        .call(Method::POST, "/api/v1/auth/logout", Some(access), None)
        .await;
    assert_eq!(r.status, 204);
    server
        .get("/api/v1/me", access)
        .await
        .assert_error(401, "INVALID_TOKEN");
    let r = server
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": pair["refresh_token"] })),
        )
        .await;
    r.assert_error(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn five_failures_lock_the_account_without_revealing_which_part_was_wrong() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    server.tenant(&root, "lock-a").await;

    let wrong_password = server
        .login(Some("lock-a"), "admin", "wrong-password")
        .await;
    let unknown_user = server
        .login(Some("lock-a"), "nobody", "wrong-password")
        .await;
    let unknown_tenant = server
        .login(Some("no-such"), "admin", "admin-password")
        .await;
    for r in [&wrong_password, &unknown_user, &unknown_tenant] {
        r.assert_error(401, "INVALID_CREDENTIALS");
        assert_eq!(
            r.body["error"]["message"],
            wrong_password.body["error"]["message"]
        );
    }
    for _ in 0..4 {
        server
            .login(Some("lock-a"), "admin", "wrong-password")
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    // Now locked: even the right password is refused, with a clear envelope.
    let locked = server
        .login(Some("lock-a"), "admin", "admin-password")
        .await;
    let d = locked.assert_error(429, "ACCOUNT_LOCKED");
    let retry = d["retry_after"].as_i64().unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
    assert_eq!(
        locked
            .header("retry-after")
            .map(|v| v.parse::<i64>().unwrap()),
        Some(retry)
    );
    // Another account is not affected.
    assert_eq!(
        server.login(None, ROOT_USER, ROOT_PASSWORD).await.status,
        200
    );
    // Passwords never reach the logs.
    let logs = server.logs();
    assert!(
        !logs.contains("wrong-password")
            && !logs.contains(ROOT_PASSWORD)
            && !logs.contains("admin-password")
    );
}

#[tokio::test]
async fn api_tokens_are_scoped_shown_once_and_revocable() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "tok-a").await;

    let r = server
        .post(
            "/api/v1/api-tokens",
            &admin,
            json!({ "name": "ocr agent", "scopes": ["users:read"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();
    let id = r.body["id"].as_i64().unwrap();
    assert!(token.starts_with("sko_"));

    assert_eq!(server.get("/api/v1/users", &token).await.status, 200);
    let me = server.get("/api/v1/me", &token).await.body;
    assert_eq!(me["permissions"], json!(["users:read"]));
    // Outside its scope: 403 even though the owner is an admin.
    let r = server
        .post(
            "/api/v1/users",
            &token,
            json!({ "username": "x", "password": "user-password" }),
        )
        .await;
    assert_eq!(
        r.assert_error(403, "INSUFFICIENT_PERMISSIONS")["missing_permissions"],
        json!(["users:create"])
    );

    let list = server.get("/api/v1/api-tokens", &admin).await.body;
    assert_eq!(list["data"][0]["id"], json!(id));
    assert!(
        list["data"][0].get("token").is_none(),
        "token is shown only once"
    );
    assert!(list["data"][0]["last_used_at"].is_string());

    // Scopes beyond the caller's permissions are refused.
    let r = server
        .post(
            "/api/v1/api-tokens",
            &admin,
            json!({ "name": "x", "scopes": ["tenants:create"] }),
        )
        .await;
    r.assert_error(422, "VALIDATION_ERROR");

    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    server
        .get("/api/v1/users", &token)
        .await
        .assert_error(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn weak_passwords_are_refused_naming_the_rule() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "weak-pw").await;
    for (password, rule) in [
        ("password", "too easy to guess"),
        ("12345678", "too easy to guess"),
        ("        ", "only whitespace"),
        ("nul\u{0}inside-long", "control characters"),
        ("wang-xiaoming", "the username"),
    ] {
        let r = server
            .call_with(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(json!({ "username": "wang-xiaoming", "password": password })),
                &[("Accept-Language", "en")],
            )
            .await;
        let details = r.assert_error(422, "VALIDATION_ERROR");
        let messages = details["field_errors"]["password"].to_string();
        assert!(messages.contains(rule), "{password:?}: {messages}");
    }
    // The same rules when a password is changed.
    let id = server.user(&admin, "wang-xiaoming", &[]).await;
    let r = server
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({ "password": "wang-xiaoming" })),
        )
        .await;
    r.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(
        server
            .login(Some("weak-pw"), "wang-xiaoming", "user-password")
            .await
            .status,
        200,
        "the refused change changed nothing"
    );
}

/// `access_token_verifications_total{outcome="valid"}` as the server reports it.
async fn valid_verifications(server: &Server) -> u64 {
    let text = server.metrics().await;
    text.lines()
        .find(|l| l.starts_with("access_token_verifications_total{outcome=\"valid\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_access_token_is_verified_once_per_request() {
    let store = Store::new().await;
    // With the rate limiter (which verifies first and hands the claims on) and
    // without it (the principal extractor verifies).
    for limits in ["true", "false"] {
        let server = Server::start_with(&store, &[("SHOPOPS_RATE_LIMIT_ENABLED", limits)]).await;
        let root = server.root_token().await;
        let before = valid_verifications(&server).await;
        for path in [
            "/api/v1/me",
            "/api/v1/tenants",
            "/api/v1/users",
            "/api/v1/me",
            "/api/v1/tenants",
        ] {
            let r = server.get(path, &root).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
        }
        assert_eq!(
            valid_verifications(&server).await - before,
            5,
            "rate limits {limits}"
        );
    }
}
