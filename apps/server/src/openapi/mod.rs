//! The server's OpenAPI document: the kernel's, each module nested at `/api/v1/{name}`,
//! the envelope's `code` as the enum of every code in the catalogue, and the
//! permissions with the roles that hold them by default. [`contract`] then states
//! what every operation shares (error answers, security, operation ids).

mod contract;

use std::fmt::Write as _;

use serde_json::json;
use utoipa::openapi::{OpenApi as Doc, RefOr, Schema};
use utoipa::OpenApi;

pub fn document() -> Doc {
    let mut doc = shopops_kernel::ApiDoc::openapi();
    for module in crate::modules::MODULES {
        doc = doc.nest(format!("/api/v1/{}", module.name()), module.openapi());
    }
    let declarations = crate::modules::declarations();
    doc.info.title = "ShopOps API".into();
    let mut description = String::from(
        "E-commerce seller operations: identity and access, audit, alerts, points, Kuaishou shops, \
         payment/SMS/storage/captcha integrations, customer service.\n\n\
         Errors are the envelope `ErrorEnvelope`; `error.code` is one of the codes listed in its \
         enum (catalogue: `/docs/errors`), `error.message` follows `Accept-Language` (zh-CN or en).\n\n\
         ## Permissions\n\n| permission | roles by default | allows |\n|---|---|---|\n",
    );
    for p in &declarations.permissions {
        let roles: Vec<_> = p.roles.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            description,
            "| `{}` | {} | {} |",
            p.name,
            roles.join(", "),
            p.description
        );
    }
    doc.info.description = Some(description);
    let codes: Vec<&str> = declarations
        .catalogues
        .iter()
        .flat_map(|c| c.codes.iter().map(|code| code.code))
        .collect();
    set_code_enum(&mut doc, &codes);
    let modules: Vec<&str> = crate::modules::MODULES.iter().map(|m| m.name()).collect();
    contract::complete(doc, &modules)
}

/// `ErrorInfo.code` lists every code of the catalogue.
fn set_code_enum(doc: &mut Doc, codes: &[&str]) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(info))) = components.schemas.get_mut("ErrorInfo") else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(code))) = info.properties.get_mut("code") {
        code.enum_values = Some(codes.iter().map(|c| json!(c)).collect());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::OpenApi;

    fn spec() -> Value {
        serde_json::to_value(super::document()).unwrap()
    }

    /// The completion edits the document as JSON and reads it back; a schema utoipa
    /// cannot read back would silently drop every shared answer.
    #[test]
    fn the_completed_document_reads_back() {
        let doc = serde_json::to_value(super::document()).unwrap();
        if let Err(e) = serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone()) {
            type Schema = utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>;
            let broken: Vec<&String> = doc["components"]["schemas"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, s)| serde_json::from_value::<Schema>((*s).clone()).is_err())
                .map(|(name, _)| name)
                .collect();
            panic!("the spec does not read back: {e}; schemas that do not: {broken:?}");
        }
        let op = &doc["paths"]["/api/v1/cs/shops"]["post"]["responses"];
        assert!(op.get("400").is_some() && op.get("401").is_some(), "{op}");
    }

    /// Every property reachable from `schema`, with a path for the message.
    fn properties(
        spec: &Value,
        schema: &Value,
        path: &str,
        seen: &mut Vec<String>,
        out: &mut Vec<(String, Value)>,
    ) {
        if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
            if seen.iter().any(|s| s == name) {
                return;
            }
            seen.push(name.to_string());
            let target = spec["components"]["schemas"][name].clone();
            return properties(spec, &target, name, seen, out);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for s in schema[key].as_array().into_iter().flatten() {
                properties(spec, s, path, seen, out);
            }
        }
        if schema.get("items").is_some() {
            properties(spec, &schema["items"], &format!("{path}[]"), seen, out);
        }
        for (name, p) in schema["properties"].as_object().into_iter().flatten() {
            out.push((format!("{path}.{name}"), p.clone()));
            properties(spec, p, &format!("{path}.{name}"), seen, out);
        }
    }

    fn has_type(p: &Value, t: &str) -> bool {
        p["type"] == t
            || p["type"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|x| x == t))
    }

    /// Every `$ref` names a schema the document holds (generators refuse the whole spec
    /// otherwise: a query parameter's enum is not collected by itself).
    #[test]
    fn every_reference_resolves() {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let spec = spec();
        let mut found = Vec::new();
        refs(&spec, &mut found);
        let missing: Vec<&String> = found
            .iter()
            .filter(|r| {
                let name = r.trim_start_matches("#/components/schemas/");
                spec["components"]["schemas"].get(name).is_none()
            })
            .collect();
        assert!(!found.is_empty());
        assert!(missing.is_empty(), "unresolved: {missing:?}");
    }

    /// Nesting merges components by name, so two modules' schemas of one name would
    /// silently become one (a customer-service shop answered as a Kuaishou shop).
    #[test]
    fn schema_names_are_unique_across_modules() {
        let mut owners: std::collections::BTreeMap<String, (&str, serde_json::Value)> =
            Default::default();
        let docs = std::iter::once(("kernel", shopops_kernel::ApiDoc::openapi())).chain(
            crate::modules::MODULES
                .iter()
                .map(|m| (m.name(), m.openapi())),
        );
        for (owner, doc) in docs {
            let schemas = doc.components.map(|c| c.schemas).unwrap_or_default();
            for (name, schema) in schemas {
                let schema = serde_json::to_value(schema).unwrap();
                if let Some((first, earlier)) = owners.get(&name) {
                    assert!(
                        *earlier == schema,
                        "schema `{name}` is defined by {first} and {owner} differently: name one with #[schema(as = …)]"
                    );
                }
                owners.insert(name, (owner, schema));
            }
        }
    }

    #[test]
    fn every_request_field_declares_the_bounds_the_server_enforces() {
        let spec = spec();
        let mut missing = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema")
                else {
                    continue;
                };
                let mut fields = Vec::new();
                properties(
                    &spec,
                    schema,
                    &format!("{method} {path}"),
                    &mut Vec::new(),
                    &mut fields,
                );
                for (name, p) in fields {
                    if has_type(&p, "integer")
                        && (p.get("minimum").is_none() || p.get("maximum").is_none())
                    {
                        missing.push(format!("{name}: an integer without minimum and maximum"));
                    }
                    let free_string = has_type(&p, "string")
                        && p.get("enum").is_none()
                        && p.get("format").is_none();
                    if free_string && p.get("maxLength").is_none() {
                        missing.push(format!("{name}: a string without maxLength"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn operations_read_well_declare_security_and_answer_errors_in_the_envelope() {
        let spec = spec();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(
                    id.contains('_') || ["healthz", "readyz", "login", "logout"].contains(&id),
                    "{method} {path}: id `{id}`"
                );
                assert!(
                    ids.insert(id.to_string()),
                    "{method} {path}: id `{id}` twice"
                );
                assert!(op["security"].is_array(), "{method} {path}: no `security`");
                for (status, response) in op["responses"].as_object().unwrap() {
                    let envelope = &response["content"]["application/json"]["schema"]["$ref"];
                    let protocol = path.contains("/callbacks/") || path == "/readyz";
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            protocol || envelope == "#/components/schemas/ErrorEnvelope",
                            "{method} {path} {status} is not the envelope"
                        );
                    }
                }
            }
        }
        let codes = &spec["components"]["schemas"]["ErrorInfo"]["properties"]["code"]["enum"];
        assert!(codes.as_array().is_some_and(|c| c.len() > 70), "{codes}");
    }
}
