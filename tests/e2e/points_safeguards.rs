//! The points API's safeguards: adjust's overdraft policy and validation, permissions, tenant
//! isolation, field selection, the rate bucket; contact data encrypted at rest and key rotation.

use reqwest::Method;
use serde_json::json;

use crate::points::{assert_consistent, earn, profile, setup};
use crate::support::{Server, Store};

#[tokio::test]
async fn adjust_overdraft_policy_permissions_isolation_and_rate_bucket() {
    let (_store, server, admin) =
        setup(&[("SHOPOPS_RATE_LIMIT_BUCKETS", "points_operations=12")]).await;
    earn(&server, &admin, "o", 20).await;
    server
        .post(
            "/api/v1/points/adjust",
            &admin,
            json!({ "member_id": "o", "points_delta": -50, "reason": "chargeback" }),
        )
        .await
        .assert_error(409, "INSUFFICIENT_POINTS");
    let r = server.call(Method::PUT, "/api/v1/points/settings", Some(&admin), Some(json!({ "min_per_operation": 1, "max_per_operation": 10000, "allow_overdraft": true }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server
        .post(
            "/api/v1/points/adjust",
            &admin,
            json!({ "member_id": "o", "points_delta": -50, "reason": "chargeback" }),
        )
        .await;
    assert_eq!(r.body["total_points"], -30, "{}", r.body);
    earn(&server, &admin, "o", 40).await;
    assert_eq!(profile(&server, &admin, "o").await["total_points"], 10);
    assert_consistent(&server, &admin).await;
    let d = server
        .post(
            "/api/v1/points/adjust",
            &admin,
            json!({ "member_id": "o", "points_delta": 0, "reason": " " }),
        )
        .await;
    let d = d.assert_error(422, "VALIDATION_ERROR");
    assert!(d["field_errors"]["points_delta"].is_array() && d["field_errors"]["reason"].is_array());
    // Amounts at the ends of the integer range and oversized or binary reasons are
    // refused before anything is added or negated.
    for body in [
        json!({ "member_id": "o", "points_delta": i64::MIN, "reason": "overflow" }),
        json!({ "member_id": "o", "points_delta": i64::MAX, "reason": "overflow" }),
        json!({ "member_id": "o", "points_delta": 5, "reason": "x".repeat(501) }),
        json!({ "member_id": "o", "points_delta": 5, "reason": "nul\u{0}byte" }),
    ] {
        server
            .post("/api/v1/points/adjust", &admin, body)
            .await
            .assert_error(422, "VALIDATION_ERROR");
    }
    assert_eq!(profile(&server, &admin, "o").await["total_points"], 10);

    // A viewer reads but cannot earn; another tenant sees nothing.
    server.user(&admin, "viewer1", &["viewer"]).await;
    let viewer = server.token(Some("pts"), "viewer1", "user-password").await;
    assert_eq!(
        server
            .get("/api/v1/points/profiles/o", &viewer)
            .await
            .status,
        200
    );
    let d = server
        .post(
            "/api/v1/points/earn",
            &viewer,
            json!({ "member_id": "o", "points_amount": 1, "category": "login" }),
        )
        .await;
    assert_eq!(
        d.assert_error(403, "INSUFFICIENT_PERMISSIONS")["missing_permissions"],
        json!(["points:earn"])
    );
    let root = server.root_token().await;
    let (_, other) = server.tenant(&root, "pts-2").await;
    server
        .get("/api/v1/points/profiles/o", &other)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    server
        .get("/api/v1/points/profiles/o/records", &other)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    let entry = earn(&server, &admin, "o", 1).await["entry_id"]
        .as_i64()
        .unwrap();
    server
        .post(
            &format!("/api/v1/points/entries/{entry}/reverse"),
            &other,
            json!({}),
        )
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    assert_eq!(profile(&server, &admin, "o").await["total_points"], 11);
    server
        .get(
            "/api/v1/points/profiles/o?fields=total_points,bogus",
            &admin,
        )
        .await
        .assert_error(400, "INVALID_QUERY");
    // A selection answers just those fields (and the spec says it may).
    let some = server
        .get(
            "/api/v1/points/profiles/o?fields=total_points,member_id",
            &admin,
        )
        .await;
    assert_eq!(some.status, 200, "{}", some.body);
    assert_eq!(some.body, json!({ "total_points": 11, "member_id": "o" }));

    // The points_operations bucket (12 per hour here) counts each user's writes.
    server.user(&admin, "agent1", &["agent"]).await;
    let agent = server.token(Some("pts"), "agent1", "user-password").await;
    for i in 0..12 {
        let r = server
            .post(
                "/api/v1/points/earn",
                &agent,
                json!({ "member_id": "o", "points_amount": 1, "category": "login" }),
            )
            .await;
        assert_eq!(r.status, 201, "write {i}: {}", r.body);
    }
    let r = server
        .post(
            "/api/v1/points/spend",
            &agent,
            json!({ "member_id": "o", "points_amount": 1 }),
        )
        .await;
    let d = r.assert_error(429, "RATE_LIMIT_EXCEEDED");
    assert_eq!(d["scope"], "points_operations");
}

#[tokio::test]
async fn personal_data_is_encrypted_found_by_keyed_hash_and_survives_key_rotation() {
    use base64::Engine;
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let (k1, k2, index) = (format!("k1:{}", b64(1)), format!("k2:{}", b64(2)), b64(9));
    let store = Store::new().await;
    let server = Server::start_with(
        &store,
        &[("SHOPOPS_PII_KEYS", &k1), ("SHOPOPS_PII_INDEX_KEY", &index)],
    )
    .await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "pii").await;
    let r = server
        .call(
            Method::PUT,
            "/api/v1/points/profiles/p1/contact",
            Some(&admin),
            Some(json!({ "email": "Alice@Example.com", "phone": "13812345678" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["email"], "A***@Example.com");
    assert_eq!(r.body["phone"], "138****5678");
    server
        .call(
            Method::PUT,
            "/api/v1/points/profiles/p1/contact",
            Some(&admin),
            Some(json!({ "email": "not-an-email" })),
        )
        .await
        .assert_error(422, "VALIDATION_ERROR");

    // At rest: ciphertext with its key id, no clear text anywhere in the row.
    let row = store
        .rows("SELECT email_enc, email_hash, phone_enc FROM points_profiles WHERE member_id = 'p1'")
        .await
        .remove(0);
    let email_enc: String = row.try_get("", "email_enc").unwrap();
    let phone_enc: String = row.try_get("", "phone_enc").unwrap();
    assert!(email_enc.starts_with("k1:") && phone_enc.starts_with("k1:"));
    assert!(!email_enc.to_lowercase().contains("alice") && !phone_enc.contains("1381234"));
    let audit = server
        .get("/api/v1/audit-logs?action=points.contact.update", &admin)
        .await
        .body;
    assert!(!audit.to_string().contains("lice@"), "{audit}");

    let found = server
        .get("/api/v1/points/profiles?email=alice@example.COM", &admin)
        .await;
    assert_eq!(found.body["member_id"], "p1", "{}", found.body);
    server
        .get("/api/v1/points/profiles?email=bob@example.com", &admin)
        .await
        .assert_error(404, "RESOURCE_NOT_FOUND");
    drop(server);

    // Rotation: k2 encrypts from now on, k1 still decrypts, lookups still work.
    let server = Server::start_with(
        &store,
        &[
            ("SHOPOPS_PII_KEYS", &format!("{k2},{k1}")),
            ("SHOPOPS_PII_INDEX_KEY", &index),
        ],
    )
    .await;
    let admin = server.token(Some("pii"), "admin", "admin-password").await;
    assert_eq!(
        server
            .get("/api/v1/points/profiles?phone=13812345678", &admin)
            .await
            .body["email"],
        "A***@Example.com"
    );
    server
        .call(
            Method::PUT,
            "/api/v1/points/profiles/p2/contact",
            Some(&admin),
            Some(json!({ "email": "bob@example.com" })),
        )
        .await;
    let row = store
        .rows("SELECT email_enc FROM points_profiles WHERE member_id = 'p2'")
        .await
        .remove(0);
    let enc: String = row.try_get("", "email_enc").unwrap();
    assert!(enc.starts_with("k2:"), "{enc}");
}
