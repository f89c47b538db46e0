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

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
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
    /// The SDK's default, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub default: Option<serde_json::Value>,
    /// True when the SDK sends `default` even if the caller gives no value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sent_when_omitted: bool,
    /// True for the SDK's own bookkeeping fields that leak into `param`
    /// (`api_method`/`http_method` of `open.dropshipping.*`); we never send them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sdk_leak: bool,
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

impl Method {
    /// The parameters a caller may give (the SDK's leaked bookkeeping fields are not
    /// parameters of the platform).
    pub fn accepted(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| !p.sdk_leak)
    }
}

/// Why named values cannot become a method's `param`.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("`{param}` is not a parameter of {method}")]
    Unknown { method: String, param: String },
    #[error("the parameters cannot be written as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The `param` JSON of a call from named values: keys in the catalogue's wire order,
/// the SDK's always-sent defaults filled in, written like the SDK (orjson); None when
/// there is nothing to send (then `param` is left out). An unknown key is an error.
///
/// Defaults are filled in for flat models only: for the unboxed ones (a single `param`
/// field holding the business object) the SDK sends just what the caller gave, as the
/// `scm_ware_list_snake_case` vector records, although `methods.json` marks their
/// defaults as sent.
pub fn param_json(
    method: &Method,
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<String>, ParamError> {
    if let Some(unknown) = values
        .keys()
        .find(|k| !method.accepted().any(|p| &p.name == *k))
    {
        return Err(ParamError::Unknown {
            method: method.method.clone(),
            param: unknown.clone(),
        });
    }
    let mut ordered = serde_json::Map::new();
    for p in method.accepted() {
        let value = match values.get(&p.name) {
            Some(v) if !v.is_null() => v.clone(),
            _ if p.sent_when_omitted && method.param_wrapping == "flat" => match &p.default {
                Some(d) => d.clone(),
                None => continue,
            },
            _ => continue, // None fields are left out, as the SDK does
        };
        ordered.insert(p.name.clone(), value);
    }
    if ordered.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::client::json::to_param_json(&ordered)?))
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
        // The SDK's always-sent defaults, as the item_list_defaults vector records.
        assert_eq!(
            param_json(find("open.item.list.get").unwrap(), &serde_json::Map::new())
                .unwrap()
                .unwrap(),
            r#"{"pageNumber":1,"pageSize":20}"#
        );
        // The dropshipping models' leaked fields are not sent, nor accepted.
        let drop = find("open.dropshipping.order.list").unwrap();
        let values = serde_json::json!({ "pageSize": 20 });
        let sent = param_json(drop, values.as_object().unwrap())
            .unwrap()
            .unwrap();
        assert!(!sent.contains("api_method"), "{sent}");
        assert!(param_json(
            drop,
            serde_json::json!({ "api_method": "x" })
                .as_object()
                .unwrap()
        )
        .is_err());
    }
}
