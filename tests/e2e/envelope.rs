//! Every class of failure answers with the error envelope, never a bare status,
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

/// Sends raw bytes and reads the whole answer (the server closes after a refusal).
async fn raw(server: &Server, request: &[u8]) -> (u16, String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything we send.
    let _ = socket.write_all(request).await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = serde_json::from_str(body.split("HTTP/1.1 ").next().unwrap_or_default());
    (status, text.clone(), body.unwrap_or_default())
}

#[tokio::test]
async fn oversized_request_heads_get_the_envelope_too() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    for (request, status, code) in [
        // Past our limit and past actix's own (64 KiB URI, 128 KiB head).
        (
            format!(
                "GET /api/v1/me?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(10_000)
            ),
            414,
            "URI_TOO_LONG",
        ),
        (
            format!(
                "GET /api/v1/me?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(70_000)
            ),
            414,
            "URI_TOO_LONG",
        ),
        (
            format!(
                "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "b".repeat(70_000)
            ),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            format!(
                "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "b".repeat(200_000)
            ),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            format!(
                "GET /api/v1/me HTTP/1.1\r\n{}\r\n",
                "X-A: 1\r\n".repeat(120)
            ),
            431,
            "HEADERS_TOO_LARGE",
        ),
    ] {
        let (got, head, body) = raw(&server, request.as_bytes()).await;
        assert_eq!(got, status, "{head}");
        assert_eq!(body["error"]["code"], code, "{head}\n{body}");
        let rid = head
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .expect("x-request-id header");
        assert_eq!(body["error"]["request_id"], rid);
        assert!(body["error"]["details"]["limit_bytes"].is_u64());
    }
    // Kept-alive requests with bodies in between are read along correctly: a long body
    // is not a long head.
    let body = "x".repeat(20_000);
    let two = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (_, text, _) = raw(&server, two.as_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(
        text.contains("HTTP/1.1 200 OK"),
        "the second request was answered: {text}"
    );
    let answers = server.logs().matches("request head refused").count();
    assert_eq!(answers, 5);
}

#[tokio::test]
async fn messages_come_in_the_language_the_caller_reads() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let (_, admin) = server.tenant(&root, "lang").await;
    let bad = json!({ "username": "bad name", "password": "short" });
    let ask = |lang: Option<&'static str>| {
        let headers: Vec<(&str, &str)> = lang.map(|l| ("Accept-Language", l)).into_iter().collect();
        let (server, admin, bad) = (&server, admin.clone(), bad.clone());
        async move {
            server
                .call_with(
                    Method::POST,
                    "/api/v1/users",
                    Some(&admin),
                    Some(bad),
                    &headers,
                )
                .await
        }
    };
    let en = ask(Some("en-GB,en;q=0.9")).await;
    en.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(
        en.body["error"]["message"],
        "request data failed validation"
    );
    assert_eq!(en.header("content-language"), Some("en"));
    assert!(en.body["error"]["details"]["field_errors"]["password"][0]
        .as_str()
        .is_some_and(|m| m.contains("at least 8 characters")));
    // No language we have: the default (zh-CN), the code unchanged.
    let zh = ask(Some("fr-FR")).await;
    zh.assert_error(422, "VALIDATION_ERROR");
    assert_eq!(zh.body["error"]["message"], "请求数据未通过校验");
    assert_eq!(zh.header("content-language"), Some("zh-CN"));
    assert!(zh.body["error"]["details"]["field_errors"]["password"][0]
        .as_str()
        .is_some_and(|m| m.contains("至少 8 个字符")));
    // No message mixes the languages.
    let texts = |reply: &crate::support::Reply| {
        format!(
            "{}{}",
            reply.body["error"]["message"].as_str().unwrap_or_default(),
            reply.body["error"]["details"]["field_errors"]
        )
    };
    let cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    assert!(!texts(&en).chars().any(cjk), "{}", texts(&en));
    let zh_text: String = texts(&zh)
        .replace("\"password\"", "")
        .replace("\"username\"", "");
    assert!(
        !zh_text.chars().any(|c| c.is_ascii_alphabetic()),
        "{zh_text}"
    );
}
