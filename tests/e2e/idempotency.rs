//! `Idempotency-Key` through a real write (user creation).

use reqwest::Method;
use serde_json::json;

use crate::support::{Server, Store};

#[tokio::test]
async fn replays_rejects_reuse_and_does_not_store_validation_failures() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "idem").await;
    let create = |key: &'static str, body: serde_json::Value| {
        let admin = admin.clone();
        let server = &server;
        async move {
            server
                .call_with(
                    Method::POST,
                    "/api/v1/users",
                    Some(&admin),
                    Some(body),
                    &[("Idempotency-Key", key)],
                )
                .await
        }
    };
    let body = json!({ "username": "ivan", "password": "user-password", "roles": ["agent"] });

    let first = create("k-1", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = create("k-1", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the stored response is replayed");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    let other = create(
        "k-1",
        json!({ "username": "ivan2", "password": "user-password" }),
    )
    .await;
    other.assert_error(422, "IDEMPOTENCY_KEY_REUSED");

    // A validation failure is not stored: the corrected request with the same key runs.
    create(
        "k-2",
        json!({ "username": "bad name", "password": "user-password" }),
    )
    .await
    .assert_error(422, "VALIDATION_ERROR");
    let fixed = create(
        "k-2",
        json!({ "username": "good", "password": "user-password" }),
    )
    .await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);

    // A refusal after validation (conflict) is stored and replayed as the same envelope.
    let dup = create(
        "k-3",
        json!({ "username": "good", "password": "user-password" }),
    )
    .await;
    dup.assert_error(409, "USERNAME_TAKEN");
    assert_eq!(dup.header("idempotent-replayed"), None);
    let replayed = create(
        "k-3",
        json!({ "username": "good", "password": "user-password" }),
    )
    .await;
    replayed.assert_error(409, "USERNAME_TAKEN");
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));

    // Concurrent duplicates: one effect; the others replay it or are told it is in flight.
    let body = json!({ "username": "racer", "password": "user-password" });
    let calls = (0..8).map(|_| create("k-race", body.clone()));
    let replies = futures_util::future::join_all(calls).await;
    for r in &replies {
        assert!(
            r.status == 201
                || (r.status == 409 && r.body["error"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"),
            "{}",
            r.body
        );
    }
    let users = server.get("/api/v1/users?limit=100", &admin).await.body;
    let racers = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "racer")
        .count();
    assert_eq!(racers, 1);
    let ivans = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "ivan")
        .count();
    assert_eq!(ivans, 1);

    // Keys are per caller: the same key from another tenant is a different key.
    let (_, other_admin) = server.tenant(&root, "idem-2").await;
    let r = server
        .call_with(
            Method::POST,
            "/api/v1/users",
            Some(&other_admin),
            Some(json!({ "username": "ivan", "password": "user-password" })),
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["id"], first.body["id"]);
}

#[tokio::test]
async fn a_secret_is_shown_once_and_never_kept_for_replays() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "secret-once").await;
    let create = || {
        server.call_with(
            Method::POST,
            "/api/v1/api-tokens",
            Some(&admin),
            Some(json!({ "name": "ocr agent", "scopes": ["users:read"] })),
            &[("Idempotency-Key", "token-1")],
        )
    };
    let first = create().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let token = first.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("sko_"));

    // The replay names the token it made but cannot show its secret again.
    let again = create().await;
    again.assert_error(409, "SECRET_NOT_REPLAYED");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.body["error"]["details"]["created"]["id"],
        first.body["id"]
    );
    assert!(!again.body.to_string().contains(&token));

    // Nothing the idempotency store keeps holds the token or a password of a body.
    let tenant = server
        .call_with(
            Method::POST,
            "/api/v1/tenants",
            Some(&root),
            Some(json!({ "code": "secret-once-2", "name": "Two",
                         "admin": { "username": "admin", "password": "Tenant-Admin-Pw-93" } })),
            &[("Idempotency-Key", "tenant-1")],
        )
        .await;
    assert_eq!(tenant.status, 201, "{}", tenant.body);
    let rows = store
        .rows("SELECT COALESCE(response_body, '') AS body FROM idempotency_keys")
        .await;
    assert!(!rows.is_empty());
    for row in rows {
        let body: String = row.try_get("", "body").unwrap();
        assert!(!body.contains(&token), "{body}");
        assert!(!body.contains("Tenant-Admin-Pw-93"), "{body}");
    }
}
