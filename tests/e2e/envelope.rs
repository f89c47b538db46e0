//! Every class of failure answers with the seed-001 envelope, never a bare status,
//! plain text or a 500.

use reqwest::Method;
use serde_json::json;

use crate::support::{Server, Store};

#[tokio::test]
async fn every_error_class_renders_the_envelope() {
    let store = Store::new().await;
    let server = Server::start_with(&store, &[("SHOPOPS_MAX_BODY_BYTES", "4096")]).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "env-a").await;
    let url = |p: &str| format!("{}{}", server.base, p);

    // 400: malformed JSON, wrong type, missing field, unknown field.
    for (body, code) in [
        ("{\"username\": ", "MALFORMED_JSON"),
        (
            "{\"username\": 5, \"password\": \"long-enough\"}",
            "INVALID_REQUEST_BODY",
        ),
        ("{\"password\": \"long-enough\"}", "INVALID_REQUEST_BODY"),
        (
            "{\"username\": \"a\", \"password\": \"long-enough\", \"tenant_id\": 9}",
            "INVALID_REQUEST_BODY",
        ),
    ] {
        let res = server
            .http
            .post(url("/api/v1/users"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let reply = crate::support::Reply::from_response(res).await;
        reply.assert_error(400, code);
    }

    // 415: not JSON.
    let res = server
        .http
        .post(url("/api/v1/users"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    crate::support::Reply::from_response(res)
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");

    // 413: over the configured body limit.
    let big = json!({ "username": "x", "password": "y".repeat(10_000) });
    let r = server.post("/api/v1/users", &admin, big).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");

    // 404 unknown route, 405 wrong method.
    server
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await
        .assert_error(404, "ROUTE_NOT_FOUND");
    server
        .call(Method::DELETE, "/api/v1/me", Some(&admin), None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");

    // 400 bad path parameter and bad query.
    server
        .get("/api/v1/users/not-a-number", &admin)
        .await
        .assert_error(400, "INVALID_PATH_PARAMETER");
    server
        .get("/api/v1/users?limit=abc", &admin)
        .await
        .assert_error(400, "INVALID_QUERY");
    server
        .get("/api/v1/users?cursor=garbage!", &admin)
        .await
        .assert_error(400, "INVALID_CURSOR");

    // 401 without token, with garbage token.
    let d = server.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(
        d.assert_error(401, "INVALID_TOKEN")["token_expired"],
        json!(false)
    );
    server
        .get("/api/v1/me", "garbage")
        .await
        .assert_error(401, "INVALID_TOKEN");

    // 404 missing resource, 409 conflict, 422 validation with field errors.
    server
        .get("/api/v1/users/999999", &admin)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    server.user(&admin, "dup", &[]).await;
    server
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "dup", "password": "user-password"}),
        )
        .await
        .assert_error(409, "USERNAME_TAKEN");
    let r = server
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "bad name", "password": "short", "roles": ["king"]}),
        )
        .await;
    let details = r.assert_error(422, "VALIDATION_ERROR");
    for field in ["username", "password", "roles"] {
        assert!(
            details["field_errors"][field].is_array(),
            "{field}: {details}"
        );
    }

    // An incoming request id is kept and echoed.
    let r = server
        .call_with(
            Method::GET,
            "/api/v1/me",
            None,
            None,
            &[("X-Request-Id", "trace-42")],
        )
        .await;
    r.assert_error(401, "INVALID_TOKEN");
    assert_eq!(r.body["error"]["request_id"], json!("trace-42"));

    // The catalogue the envelopes point at is served.
    let doc = server
        .http
        .get(url("/docs/errors"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for code in [
        "INVALID_TOKEN",
        "INSUFFICIENT_PERMISSIONS",
        "VALIDATION_ERROR",
        "IDEMPOTENCY_KEY_REUSED",
    ] {
        assert!(doc.contains(code), "docs/errors.md lacks {code}");
    }
}

#[tokio::test]
async fn openapi_covers_every_route_and_the_docs_page_is_served() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let spec: serde_json::Value = server
        .http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/healthz", &["get"][..]),
        ("/readyz", &["get"]),
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/auth/refresh", &["post"]),
        ("/api/v1/auth/logout", &["post"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/tenants", &["get", "post"]),
        ("/api/v1/users", &["get", "post"]),
        ("/api/v1/users/{id}", &["get", "patch", "delete"]),
        ("/api/v1/users/{id}/roles", &["put"]),
        ("/api/v1/api-tokens", &["get", "post"]),
        ("/api/v1/api-tokens/{id}", &["delete"]),
        ("/api/v1/audit-logs", &["get"]),
        ("/api/v1/ops/outside-targets", &["get"]),
        ("/api/v1/alerts", &["get"]),
        ("/api/v1/alerts/rules", &["get"]),
        ("/api/v1/alerts/rules/{rule}/silence", &["post", "delete"]),
        ("/api/v1/alerts/channels/{name}/test", &["post"]),
        ("/api/v1/points/earn", &["post"]),
        ("/api/v1/points/spend", &["post"]),
        ("/api/v1/points/adjust", &["post"]),
        ("/api/v1/points/freeze", &["post"]),
        ("/api/v1/points/unfreeze", &["post"]),
        ("/api/v1/points/batch-earn", &["post"]),
        ("/api/v1/points/entries/{id}/reverse", &["post"]),
        ("/api/v1/points/profiles", &["get"]),
        ("/api/v1/points/profiles/{member_id}", &["get"]),
        ("/api/v1/points/profiles/{member_id}/records", &["get"]),
        ("/api/v1/points/profiles/{member_id}/contact", &["put"]),
        ("/api/v1/points/profiles/{member_id}/vip-tags", &["post"]),
        (
            "/api/v1/points/profiles/{member_id}/vip-tags/{tag_type}",
            &["delete"],
        ),
        ("/api/v1/points/user-levels", &["get"]),
        ("/api/v1/points/levels", &["post"]),
        ("/api/v1/points/levels/{id}", &["patch", "delete"]),
        ("/api/v1/points/vip-tags", &["get", "post"]),
        ("/api/v1/points/settings", &["get", "put"]),
        ("/api/v1/points/integrity", &["get"]),
        ("/api/v1/kuaishou/shops/authorize-url", &["get"]),
        ("/api/v1/kuaishou/oauth/callback", &["get"]),
        ("/api/v1/kuaishou/shops", &["get"]),
        ("/api/v1/kuaishou/shops/{id}", &["delete"]),
        ("/api/v1/kuaishou/shops/{id}/refresh", &["post"]),
        ("/api/v1/kuaishou/shops/{id}/info", &["get"]),
        ("/api/v1/kuaishou/webhooks", &["post"]),
        ("/api/v1/kuaishou/events", &["get"]),
        ("/api/v1/kuaishou/shops/{id}/sync", &["post"]),
        ("/api/v1/kuaishou/orders", &["get"]),
        ("/api/v1/kuaishou/shops/{id}/call", &["post"]),
    ] {
        for m in methods {
            assert!(
                paths.get(path).and_then(|p| p.get(*m)).is_some(),
                "spec lacks {m} {path}"
            );
        }
    }
    assert!(spec["components"]["schemas"]["ErrorEnvelope"].is_object());
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let docs = server
        .http
        .get(format!("{}/docs/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "docs page is Swagger UI"
    );
}
