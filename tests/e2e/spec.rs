//! Every answer the end-to-end tests receive through `Server::call` is checked against
//! the OpenAPI document the binary serves: the status must be one the operation
//! declares, and a JSON body must match the schema declared for that status. So the
//! whole suite is a contract test: a route that answers something its spec entry does
//! not say fails whichever test met it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use reqwest::Method;
use serde_json::{json, Map, Value};

struct Operation {
    method: String,
    pattern: Vec<Segment>,
    responses: Map<String, Value>,
}

enum Segment {
    Literal(String),
    /// `{name}`; the last segment named `key` may hold slashes (storage keys).
    Param {
        rest: bool,
    },
}

struct Spec {
    components: Value,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let out = std::process::Command::new(crate::support::binary())
            .env_clear()
            .arg("openapi")
            .output()
            .expect("shopops openapi");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("the spec is JSON");
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let last = parts.len() - 1;
            let pattern = parts
                .iter()
                .enumerate()
                .map(|(i, p)| match p.strip_prefix('{') {
                    Some(name) => Segment::Param {
                        rest: i == last && name.trim_end_matches('}') == "key",
                    },
                    None => Segment::Literal(p.to_string()),
                })
                .collect::<Vec<_>>();
            for (method, op) in item.as_object().expect("path item") {
                let Some(responses) = op["responses"].as_object() else {
                    continue;
                };
                operations.push(Operation {
                    method: method.to_ascii_uppercase(),
                    pattern: pattern_clone(&pattern),
                    responses: responses.clone(),
                });
            }
        }
        Spec {
            components: doc["components"].clone(),
            operations,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

fn pattern_clone(pattern: &[Segment]) -> Vec<Segment> {
    pattern
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => Segment::Literal(l.clone()),
            Segment::Param { rest } => Segment::Param { rest: *rest },
        })
        .collect()
}

fn matches(pattern: &[Segment], path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut i = 0;
    for (n, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Literal(l) => {
                if parts.get(i) != Some(&l.as_str()) {
                    return false;
                }
                i += 1;
            }
            Segment::Param { rest: true } => return n == pattern.len() - 1 && i < parts.len(),
            Segment::Param { rest: false } => {
                if parts.get(i).is_none_or(|p| p.is_empty()) {
                    return false;
                }
                i += 1;
            }
        }
    }
    i == parts.len()
}

/// The operation an answered request belongs to; literal segments win over
/// parameters (`/shops/authorize-url` before `/shops/{id}`).
fn operation<'a>(spec: &'a Spec, method: &Method, path: &str) -> Option<&'a Operation> {
    spec.operations
        .iter()
        .filter(|op| op.method == method.as_str() && matches(&op.pattern, path))
        .max_by_key(|op| {
            op.pattern
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count()
        })
}

/// Panics when the answer is not one the spec declares for the request.
pub fn check(method: &Method, url: &str, status: u16, content_type: &str, body: &Value) {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let spec = spec();
    let Some(op) = operation(spec, method, path) else {
        // Not a documented route: the answer is the router's 404/405 envelope, which
        // the envelope tests check.
        return;
    };
    let declared = op
        .responses
        .get(&status.to_string())
        .or_else(|| op.responses.get("default"));
    let Some(declared) = declared else {
        let known: Vec<&String> = op.responses.keys().collect();
        panic!("{method} {path} answered {status}, which its spec entry does not declare (declares {known:?}): {body}");
    };
    let Some(schema) = declared["content"]["application/json"].get("schema") else {
        return;
    };
    if !content_type.starts_with("application/json") {
        panic!("{method} {path} answered {status} as `{content_type}`, the spec says JSON: {body}");
    }
    let key = format!("{method} {path} {status} {schema}");
    let validator = {
        let mut cache = spec.validators.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                // The schema's `#/components/…` references resolve in this document.
                let mut root = schema.as_object().cloned().unwrap_or_default();
                root.insert("components".into(), spec.components.clone());
                std::sync::Arc::new(
                    jsonschema::draft202012::new(&json!(root)).expect("the spec's schema compiles"),
                )
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered {status} with a body its spec entry does not allow:\n{}\nbody: {body}",
        errors.join("\n")
    );
}

#[test]
#[should_panic(expected = "does not allow")]
fn a_body_the_spec_does_not_allow_fails_the_test() {
    check(
        &Method::GET,
        "http://127.0.0.1:1/api/v1/me",
        200,
        "application/json",
        &json!({ "user_id": "not a number" }),
    );
}

#[test]
#[should_panic(expected = "does not declare")]
fn a_status_the_spec_does_not_declare_fails_the_test() {
    check(
        &Method::GET,
        "http://127.0.0.1:1/api/v1/points/vip-tags",
        418,
        "application/json",
        &json!({}),
    );
}
