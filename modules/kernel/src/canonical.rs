//! Canonical JSON: compact, object keys sorted at every level. Hashes over JSON (audit
//! chain, idempotency fingerprints) use it, so they do not depend on the key order a
//! value was built or stored in (serde_json keeps insertion order in this workspace,
//! and PostgreSQL `jsonb` returns its own order).

use serde_json::Value;

/// The value as compact JSON with object keys sorted recursively.
pub fn to_string(value: &Value) -> String {
    sorted(value).to_string()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_at_any_depth() {
        let a = json!({ "b": 1, "a": { "z": [ { "y": 1, "x": 2 } ], "c": null } });
        let b: Value =
            serde_json::from_str(r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#).unwrap();
        assert_ne!(a.to_string(), b.to_string(), "insertion order is kept");
        assert_eq!(to_string(&a), to_string(&b));
        assert_eq!(
            to_string(&a),
            r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }
}
