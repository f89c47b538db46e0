//! The foundation scenario, role denial, and tenant isolation on every route.

use reqwest::Method;
use serde_json::json;

use crate::support::{Server, Store};

#[tokio::test]
async fn two_tenants_roles_isolation_and_audit() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (tenant_a, admin_a) = server.tenant(&root, "shop-a").await;
    let (tenant_b, admin_b) = server.tenant(&root, "shop-b").await;
    assert_ne!(tenant_a, tenant_b);

    // A tenant admin creates a viewer; the viewer reads but cannot write.
    let viewer_id = server.user(&admin_a, "vera", &["viewer"]).await;
    let viewer = server.token(Some("shop-a"), "vera", "user-password").await;
    let me = server.get("/api/v1/me", &viewer).await.body;
    assert_eq!(me["tenant"]["code"], "shop-a");
    assert_eq!(me["roles"], json!(["viewer"]));
    assert_eq!(server.get("/api/v1/users", &viewer).await.status, 200);
    let r = server
        .post(
            "/api/v1/users",
            &viewer,
            json!({ "username": "eve", "password": "user-password" }),
        )
        .await;
    let d = r.assert_error(403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(d["required_permissions"], json!(["users:create"]));
    assert_eq!(d["missing_permissions"], json!(["users:create"]));
    assert!(d["user_permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("users:read")));

    // A tenant admin cannot reach platform routes.
    server.post("/api/v1/tenants", &admin_a, json!({ "code": "x-1", "name": "X", "admin": { "username": "a", "password": "admin-password" } }))
        .await.assert_error(403, "INSUFFICIENT_PERMISSIONS");
    // Nor hand out roles above its own.
    let r = server
        .call(
            Method::PUT,
            &format!("/api/v1/users/{viewer_id}/roles"),
            Some(&admin_a),
            Some(json!({ "roles": ["superadmin"] })),
        )
        .await;
    r.assert_error(422, "VALIDATION_ERROR");

    // Tenant B sees none of tenant A's users, on any route: 404, never 403.
    let path = format!("/api/v1/users/{viewer_id}");
    server
        .get(&path, &admin_b)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    server
        .call(
            Method::PATCH,
            &path,
            Some(&admin_b),
            Some(json!({ "is_active": false })),
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    server
        .call(
            Method::PUT,
            &format!("{path}/roles"),
            Some(&admin_b),
            Some(json!({ "roles": ["admin"] })),
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    server
        .call(Method::DELETE, &path, Some(&admin_b), None)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let names: Vec<String> = server.get("/api/v1/users", &admin_b).await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["admin"], "tenant B lists only its own users");

    // API tokens of tenant A are invisible to tenant B.
    let t = server
        .post(
            "/api/v1/api-tokens",
            &admin_a,
            json!({ "name": "a", "scopes": ["users:read"] }),
        )
        .await
        .body;
    let token_id = t["id"].as_i64().unwrap();
    server
        .call(
            Method::DELETE,
            &format!("/api/v1/api-tokens/{token_id}"),
            Some(&admin_b),
            None,
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(
        server.get("/api/v1/api-tokens", &admin_b).await.body["data"],
        json!([])
    );
    assert_eq!(
        server
            .get("/api/v1/users", t["token"].as_str().unwrap())
            .await
            .status,
        200,
        "A's token still works"
    );

    // Tenant A's viewer is untouched by B's attempts.
    let still = server.get(&path, &admin_a).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.body["is_active"], json!(true));
    assert_eq!(still.body["roles"], json!(["viewer"]));

    // The audit log shows the user creation to its own tenant only.
    let audit_a = server
        .get("/api/v1/audit-logs?action=user.create", &admin_a)
        .await
        .body;
    let targets: Vec<&str> = audit_a["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target_id"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&viewer_id.to_string().as_str()),
        "{audit_a}"
    );
    let audit_b = server.get("/api/v1/audit-logs", &admin_b).await.body;
    for record in audit_b["data"].as_array().unwrap() {
        assert_ne!(
            record["target_id"],
            json!(viewer_id.to_string()),
            "B sees A's record: {record}"
        );
        assert_ne!(record["target_id"], json!(token_id.to_string()));
    }
    // Audit records carry who, what and the request, but never the password.
    let create = audit_a["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target_id"] == json!(viewer_id.to_string()))
        .unwrap();
    assert_eq!(create["actor_name"], "admin");
    assert!(create["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(!audit_a.to_string().contains("user-password"));
    // The platform chain shows tenant creation to the superadmin.
    let platform = server
        .get("/api/v1/audit-logs?action=tenant.create", &root)
        .await
        .body;
    assert_eq!(platform["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn users_lifecycle_pagination_and_session_end_on_deactivation() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "life").await;
    for i in 0..5 {
        server.user(&admin, &format!("u{i}"), &["agent"]).await;
    }
    // Pages of two: 6 users = 3 pages, no repeats.
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".into(),
        };
        let page = server.get(&path, &admin).await.body;
        for u in page["data"].as_array().unwrap() {
            seen.push(u["username"].as_str().unwrap().to_string());
        }
        if page["has_more"] == json!(false) {
            assert!(page["next_cursor"].is_null());
            break;
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen, vec!["admin", "u0", "u1", "u2", "u3", "u4"]);

    let id = server.user(&admin, "temp", &["viewer"]).await;
    let temp = server.token(Some("life"), "temp", "user-password").await;
    let r = server
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}/roles"),
            Some(&admin),
            Some(json!({ "roles": ["agent"] })),
        )
        .await;
    assert_eq!(r.body["roles"], json!(["agent"]));
    assert!(server.get("/api/v1/me", &temp).await.body["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("api_tokens:create")));

    let r = server
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    server
        .get("/api/v1/me", &temp)
        .await
        .assert_error(401, "INVALID_TOKEN");
    server
        .login(Some("life"), "temp", "user-password")
        .await
        .assert_error(403, "ACCOUNT_DISABLED");

    let r = server
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    server
        .get(&format!("/api/v1/users/{id}"), &admin)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let me_id = server.get("/api/v1/me", &admin).await.body["id"]
        .as_i64()
        .unwrap();
    server
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{me_id}"),
            Some(&admin),
            None,
        )
        .await
        .assert_error(409, "CANNOT_DELETE_SELF");
}

#[tokio::test]
async fn a_role_granted_on_one_replica_is_enforced_by_another() {
    let store = Store::new().await;
    let a = Server::start_with(&store, &[("SHOPOPS_RBAC_RELOAD_SECS", "1")]).await;
    let b = Server::start_with(&store, &[("SHOPOPS_RBAC_RELOAD_SECS", "1")]).await;
    let root = a.root_token().await;
    let (_, admin) = a.tenant(&root, "replicas").await;
    let id = a.user(&admin, "rita", &["viewer"]).await;
    let rita = a.token(Some("replicas"), "rita", "user-password").await;
    let body = json!({ "username": "new", "password": "user-password" });
    b.post("/api/v1/users", &rita, body.clone())
        .await
        .assert_error(403, "INSUFFICIENT_PERMISSIONS");

    let r = a
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}/roles"),
            Some(&admin),
            Some(json!({ "roles": ["admin"] })),
        )
        .await;
    assert_eq!(r.status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = b.post("/api/v1/users", &rita, body.clone()).await;
        if r.status == 201 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replica B never saw the new role: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
