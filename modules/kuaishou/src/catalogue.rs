//! Every method of the open platform (`data/methods.json`, 359 methods, recorded from
//! the SDK): its HTTP verb, version and business parameters in wire order.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const METHODS_JSON: &str = include_str!("../data/methods.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum HttpMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Param {
    /// Wire name (camelCase for most methods, snake_case for a few).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Method {
    pub method: String,
    pub http_method: HttpMethod,
    pub version: String,
    pub service: String,
    pub platform_path: String,
    /// `flat`, or `unboxed` when the single field's value is the whole `param`.
    pub param_wrapping: String,
    /// Business parameters in the order they are written into `param`.
    pub params: Vec<Param>,
}

#[derive(Deserialize)]
struct File {
    methods: Vec<Method>,
}

struct Catalogue {
    methods: Vec<Method>,
    index: HashMap<String, usize>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // The file is compiled in and checked by a unit test; it cannot be malformed here.
        let file: File = serde_json::from_str(METHODS_JSON).expect("data/methods.json is valid");
        let index = file
            .methods
            .iter()
            .enumerate()
            .map(|(i, m)| (m.method.clone(), i))
            .collect();
        Catalogue {
            methods: file.methods,
            index,
        }
    })
}

pub fn find(method: &str) -> Option<&'static Method> {
    let c = catalogue();
    c.index.get(method).map(|&i| &c.methods[i])
}

/// The `param` JSON of a call from named values, keys in the catalogue's wire order;
/// None when there are none (then `param` is not sent). An unknown key is an error.
/// Values are written compactly by serde_json: byte-identical to the SDK for strings,
/// integers, booleans, lists and objects; floats may differ in exponent notation.
pub fn param_json(
    method: &Method,
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<String>, String> {
    if let Some(unknown) = values
        .keys()
        .find(|k| !method.params.iter().any(|p| &p.name == *k))
    {
        return Err(format!(
            "`{unknown}` is not a parameter of {}",
            method.method
        ));
    }
    if values.is_empty() {
        return Ok(None);
    }
    let fields: Vec<String> = method
        .params
        .iter()
        .filter_map(|p| {
            values
                .get(&p.name)
                .map(|v| format!("{}:{}", serde_json::Value::String(p.name.clone()), v))
        })
        .collect();
    Ok(Some(format!("{{{}}}", fields.join(","))))
}

pub fn all() -> &'static [Method] {
    &catalogue().methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_holds_every_method() {
        assert_eq!(all().len(), 359);
        let m = find("open.order.cursor.list").unwrap();
        assert_eq!(m.http_method, HttpMethod::Get);
        assert_eq!(m.platform_path, "/open/order/cursor/list");
        assert_eq!(
            m.params
                .iter()
                .map(|p| p.name.as_str())
                .take(2)
                .collect::<Vec<_>>(),
            vec!["orderViewStatus", "pageSize"]
        );
        assert_eq!(
            all()
                .iter()
                .filter(|m| m.http_method == HttpMethod::Get)
                .count(),
            202
        );
        assert!(
            find("open.address.seller.create").is_some_and(|m| m.http_method == HttpMethod::Get),
            "some writes are GET"
        );
        assert!(all().iter().all(|m| m.version == "1"));
        assert!(find("open.no.such.method").is_none());
    }

    #[test]
    fn param_json_follows_the_wire_order_not_the_callers() {
        let m = find("open.order.cursor.list").unwrap();
        let values = serde_json::json!({ "endTime": 2, "beginTime": 1, "pageSize": 50 });
        let json = param_json(m, values.as_object().unwrap()).unwrap().unwrap();
        // The recorded vector order_cursor_list_hmac sends exactly this text.
        assert_eq!(json, r#"{"pageSize":50,"beginTime":1,"endTime":2}"#);
        assert!(param_json(m, serde_json::json!({ "pagesize": 1 }).as_object().unwrap()).is_err());
        assert_eq!(
            param_json(find("open.shop.info.get").unwrap(), &serde_json::Map::new()).unwrap(),
            None
        );
    }
}
