//! The OpenAPI document as a contract: what it promises about request bodies, checked
//! against the running server route by route.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Server, Store};

/// The spec's operations: (method, path with its parameters filled, operation).
fn operations(spec: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            // Every path parameter gets a value its type accepts.
            let filled: String = path
                .split('/')
                .map(|part| if part.starts_with('{') { "1" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            out.push((method, filled, op.clone()));
        }
    }
    out
}

/// The object schema behind a `$ref`, if the body is an object.
fn body_schema<'a>(spec: &'a Value, op: &'a Value) -> Option<&'a Value> {
    let schema = op["requestBody"]["content"]["application/json"].get("schema")?;
    let resolved = match schema["$ref"].as_str() {
        Some(r) => spec.pointer(&r.replace("#/", "/"))?,
        None => schema,
    };
    (resolved["type"] == "object" || resolved.get("properties").is_some()).then_some(resolved)
}

#[tokio::test]
async fn every_request_body_refuses_a_field_it_does_not_define() {
    let store = Store::new().await;
    let server = Server::start(&store).await;
    let root = server.root_token().await;
    let spec: Value = server
        .http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (method, path, op) in operations(&spec) {
        if body_schema(&spec, &op).is_none() {
            continue;
        }
        let reply = server
            .call(
                method.clone(),
                &path,
                Some(&root),
                Some(json!({ "zz_unknown": 1 })),
            )
            .await;
        let details = reply.assert_error(400, "INVALID_REQUEST_BODY");
        assert!(
            details["reason"]
                .as_str()
                .is_some_and(|r| r.contains("zz_unknown")),
            "{method} {path} did not name the unknown field: {}",
            reply.body
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} request bodies in the spec");
}
