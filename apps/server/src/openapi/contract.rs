//! What every operation of the API shares, stated once instead of in 100 handler
//! annotations, so the spec says everything the server may answer:
//!
//! - the error answers the kernel gives any route (envelope schema each): 429 (rate
//!   limits), 500 (a fault), 503 (a dependency down, the request timeout); 401 and 403
//!   on secured routes; 400, 413, 415 and 422 where a JSON body is read; 400 where query
//!   or path parameters are parsed; 404 where a path names a resource; 409 and 422 where
//!   an `Idempotency-Key` is taken;
//! - `security: []` on public routes (no bearer token), so generators do not guess;
//! - operation ids that read well and are unique: a module's handler `list` under
//!   `/api/v1/integrations` becomes `integrations_list`;
//! - free-form objects say `additionalProperties: true` (without it TypeScript
//!   generators type them as objects that hold nothing);
//! - an operation that takes `?fields=` answers the full resource or the fields asked
//!   for: `anyOf [X, XFields]`, where `XFields` is `X` with no property required.

use serde_json::{json, Map, Value};
use utoipa::openapi::OpenApi as Doc;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The document with the shared answers, security, ids and free-form objects stated.
pub fn complete(doc: Doc, modules: &[&str]) -> Doc {
    let mut value = match serde_json::to_value(&doc) {
        Ok(v) => v,
        Err(_) => return doc,
    };
    let mut partial = Vec::new();
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                    complete_operation(path, op, modules);
                    partial.extend(allow_field_selection(op));
                }
            }
        }
    }
    add_field_selections(&mut value, &partial);
    open_free_form_objects(&mut value);
    serde_json::from_value(value).unwrap_or(doc)
}

fn complete_operation(path: &str, op: &mut Map<String, Value>, modules: &[&str]) {
    let api = path.starts_with("/api/v1/");
    let module = modules
        .iter()
        .find(|m| path.starts_with(&format!("/api/v1/{m}/")));
    if let (Some(module), Some(Value::String(id))) = (module, op.get_mut("operationId")) {
        if !id.starts_with(&format!("{module}_")) {
            *id = format!("{module}_{id}");
        }
    }
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !op.contains_key("security") {
        op.insert("security".into(), json!([]));
    }
    let params: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let located = |place: &str| params.iter().any(|p| p["in"] == place);
    let idempotent = params
        .iter()
        .any(|p| p["in"] == "header" && p["name"] == "Idempotency-Key");
    let json_body = op
        .get("requestBody")
        .and_then(|b| b["content"].get("application/json"))
        .is_some();
    let mut statuses: Vec<(&str, &str)> = Vec::new();
    if api {
        statuses.extend([
            (
                "429",
                "Too many requests (`RATE_LIMIT_EXCEEDED`, `Retry-After`)",
            ),
            (
                "500",
                "An unexpected fault (`INTERNAL_SERVER_ERROR`, with an `error_id`)",
            ),
            (
                "503",
                "A dependency is down or the request timed out (`Retry-After`)",
            ),
        ]);
    }
    if secured {
        statuses.extend([
            ("401", "No valid token (`INVALID_TOKEN`)"),
            (
                "403",
                "A permission is missing (`INSUFFICIENT_PERMISSIONS`)",
            ),
        ]);
    }
    if json_body {
        statuses.extend([
            (
                "400",
                "The body cannot be read (`MALFORMED_JSON`, `INVALID_REQUEST_BODY`)",
            ),
            ("413", "The body is too large (`PAYLOAD_TOO_LARGE`)"),
            ("415", "The body is not JSON (`UNSUPPORTED_MEDIA_TYPE`)"),
            ("422", "Field rules failed (`VALIDATION_ERROR`)"),
        ]);
    }
    if located("query") || located("path") {
        statuses.push((
            "400",
            "A parameter is invalid (`INVALID_QUERY`, `INVALID_PATH_PARAMETER`)",
        ));
    }
    if located("path") {
        statuses.push((
            "404",
            "No such resource in your tenant (`RESOURCE_NOT_FOUND`)",
        ));
    }
    if idempotent {
        statuses.extend([
            (
                "400",
                "The `Idempotency-Key` is not 1–255 visible ASCII characters",
            ),
            (
                "409",
                "The same `Idempotency-Key` is still in flight (`IDEMPOTENCY_KEY_IN_PROGRESS`)",
            ),
            (
                "422",
                "The `Idempotency-Key` was used with another body (`IDEMPOTENCY_KEY_REUSED`)",
            ),
        ]);
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(responses) = responses {
        for (status, description) in statuses {
            responses.entry(status).or_insert_with(|| {
                json!({
                    "description": description,
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } }
                })
            });
        }
    }
}

/// For an operation with a `fields` query parameter, its 200 answer becomes
/// `anyOf [X, XFields]`; the schema names `X` that need an `XFields`.
fn allow_field_selection(op: &mut Map<String, Value>) -> Option<String> {
    let selects = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| p["in"] == "query" && p["name"] == "fields")
        });
    if !selects {
        return None;
    }
    let schema = op
        .get_mut("responses")?
        .get_mut("200")?
        .get_mut("content")?
        .get_mut("application/json")?
        .get_mut("schema")?;
    let name = schema["$ref"]
        .as_str()?
        .strip_prefix("#/components/schemas/")?
        .to_string();
    *schema = json!({ "anyOf": [
        { "$ref": format!("#/components/schemas/{name}") },
        { "$ref": format!("#/components/schemas/{name}Fields") },
    ]});
    Some(name)
}

/// `XFields`: `X` with every property optional (what `?fields=` leaves).
fn add_field_selections(doc: &mut Value, names: &[String]) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for name in names {
        if let Some(mut partial) = schemas.get(name).cloned() {
            if let Some(map) = partial.as_object_mut() {
                map.remove("required");
                map.insert(
                    "description".into(),
                    json!(format!(
                        "`{name}` with only the properties `?fields=` asked for"
                    )),
                );
            }
            schemas.insert(format!("{name}Fields"), partial);
        }
    }
}

/// `{"type": "object"}` with neither properties nor `additionalProperties` becomes an
/// object that may hold anything, wherever it appears.
fn open_free_form_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let free_form = map
                .get("type")
                .is_some_and(|t| t == "object" || t == &json!(["object", "null"]))
                && !map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !map.contains_key("$ref")
                && !map.contains_key("allOf")
                && !map.contains_key("oneOf");
            if free_form {
                map.insert("additionalProperties".into(), Value::Bool(true));
            }
            map.values_mut().for_each(open_free_form_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(open_free_form_objects),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_gets_the_answers_it_can_give() {
        let mut op = json!({
            "operationId": "list",
            "security": [{ "bearer": [] }],
            "parameters": [{ "name": "id", "in": "path" }, { "name": "Idempotency-Key", "in": "header" }],
            "requestBody": { "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": { "200": { "description": "ok" } }
        });
        let map = op.as_object_mut().unwrap();
        complete_operation(
            "/api/v1/integrations/providers/{id}",
            map,
            &["integrations"],
        );
        assert_eq!(op["operationId"], "integrations_list");
        for status in [
            "200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503",
        ] {
            assert!(op["responses"].get(status).is_some(), "{status}: {op}");
        }
        let mut public = json!({ "operationId": "login", "responses": {} });
        complete_operation(
            "/api/v1/auth/login",
            public.as_object_mut().unwrap(),
            &["integrations"],
        );
        assert_eq!(public["security"], json!([]));
        assert_eq!(public["operationId"], "login");
        assert!(public["responses"].get("401").is_none());
    }

    #[test]
    fn field_selection_answers_the_full_resource_or_a_part() {
        let mut doc = json!({
            "paths": {},
            "components": { "schemas": { "P": { "type": "object", "required": ["a"], "properties": { "a": {} } } } }
        });
        let mut op = json!({
            "parameters": [{ "name": "fields", "in": "query" }],
            "responses": { "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/P" } } } } }
        });
        let named = allow_field_selection(op.as_object_mut().unwrap());
        add_field_selections(&mut doc, &named.into_iter().collect::<Vec<_>>());
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"][1]["$ref"],
            "#/components/schemas/PFields"
        );
        assert!(doc["components"]["schemas"]["PFields"]
            .get("required")
            .is_none());
        assert_eq!(doc["components"]["schemas"]["P"]["required"], json!(["a"]));
    }

    #[test]
    fn free_form_objects_may_hold_anything() {
        let mut schema = json!({ "properties": { "params": { "type": "object" }, "typed": { "type": "object", "properties": {} } } });
        open_free_form_objects(&mut schema);
        assert_eq!(schema["properties"]["params"]["additionalProperties"], true);
        assert!(schema["properties"]["typed"]
            .get("additionalProperties")
            .is_none());
    }
}
