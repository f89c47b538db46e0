//! `shopops integrations sign --vector FILE`: what our code computes for a
//! vector-format file (`provider`, `operation`, `keys`, `inputs`; `expected` is never
//! read), printed under the names the vectors use (`signature`, `sign`,
//! `authorization`, `paySign`, `plaintext`, `signature_valid`, `accept`, `url`,
//! `signed_url`, `pass2`, `form_fields`, the canonical strings …) — the tool to reach
//! for when a provider answers "signature does not match".
//!
//! Two values are not in `inputs` and take the generators' pinned defaults unless the
//! inputs give them: the multipart boundary (`inputs.boundary`) and, for a callback,
//! the clock (`inputs.verify_at_unix`, else now).

mod captcha;
mod cloud;
mod payment;

use serde_json::{json, Value};

use crate::client::digest;
use crate::client::rsa::RsaSigner;

pub use payment::wechatpay_platform_keys;

type Out = Result<Value, String>;

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("inputs.{key}: a string is required"))
}

fn opt<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v[key].as_str()
}

/// The pairs under `preferred` when the inputs have them, else under `fallback`.
fn pairs_of(i: &Value, preferred: &str, fallback: &str) -> Vec<(String, String)> {
    if i[preferred].is_object() {
        pairs(&i[preferred])
    } else {
        pairs(&i[fallback])
    }
}

/// `path?query`, or the path alone.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// A JSON object of strings (or numbers), or an array of pairs, as ordered pairs.
fn pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), scalar(v)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|p| Some((scalar(p.get(0)?), scalar(p.get(1)?))))
            .collect(),
        _ => vec![],
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The wire body fields of `bytes`: `body` when it is text, else `body_base64`.
fn body_fields(bytes: &[u8]) -> Value {
    use base64::Engine;
    let mut out = json!({ "body_sha256": digest::sha256_hex(bytes), "body_length": bytes.len() });
    match std::str::from_utf8(bytes) {
        Ok(text) => out["body"] = json!(text),
        Err(_) => {
            out["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
    out
}

/// An object-store request as it goes on the wire: the signed headers but `host` (the
/// URL carries it), then `Authorization`, and the body's fields.
fn wire_request(
    i: &Value,
    method: &str,
    host: &str,
    target: &str,
    headers: &[(String, String)],
    authorization: &str,
) -> Value {
    let mut wire_headers: Vec<Value> = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .map(|(k, v)| json!([k, v]))
        .collect();
    wire_headers.push(json!(["Authorization", authorization]));
    let mut wire = json!({ "method": method, "target": target, "url": format!("https://{host}{target}"), "headers": wire_headers });
    if let Some(body) = request_body(i, method) {
        merge(&mut wire, body_fields(&body));
    }
    wire
}

/// The request body a vector's inputs give: `payload`, or the SDK call's `Body`, or
/// none for a method without one; None when the inputs do not say.
fn request_body(i: &Value, method: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    if let Some(p) = i["payload"].as_str() {
        return Some(p.as_bytes().to_vec());
    }
    let body = &i["sdk_call"]["kwargs"]["Body"];
    if let Some(b) = body["base64"].as_str() {
        return base64::engine::general_purpose::STANDARD.decode(b).ok();
    }
    if let Some(text) = body.as_str() {
        return Some(text.as_bytes().to_vec());
    }
    matches!(method, "GET" | "HEAD" | "DELETE").then(Vec::new)
}

fn merge(out: &mut Value, extra: Value) {
    if let (Value::Object(o), Value::Object(e)) = (out, extra) {
        o.extend(e);
    }
}

/// The values for a vector file's text.
pub fn sign_vector(text: &str) -> Out {
    let file: Value = serde_json::from_str(text).map_err(|e| format!("not a vector file: {e}"))?;
    let provider = file["provider"].as_str().unwrap_or_default();
    let operation = file["operation"].as_str().unwrap_or_default();
    let keys = &file["keys"];
    let inputs = &file["inputs"];
    if !inputs.is_object() {
        return Err("the file has no `inputs` object".into());
    }
    let base = operation.split('+').next().unwrap_or_default();
    match (provider, base) {
        ("wechatpay", "sign_request") => payment::wechatpay_request(keys, inputs),
        ("wechatpay", "jsapi_pay_sign") => payment::wechatpay_pay_sign(keys, inputs),
        ("wechatpay", "verify_and_decrypt_callback") => payment::wechatpay_callback(keys, inputs),
        ("wechatpay", "aead_decrypt") => payment::aead(inputs),
        ("alipay", "sign_request") => payment::alipay_request(keys, inputs),
        ("alipay", "sign_content_rules") => payment::alipay_rules(keys, inputs),
        ("alipay", "verify_async_notify") => payment::alipay_notify(keys, inputs),
        ("tencent-sms", "tc3_sign_request") => cloud::tencent(inputs),
        ("aliyun-sms", "rpc_sign_request") => cloud::aliyun_rpc(inputs),
        ("aliyun-sms", "acs3_sign_request") => cloud::aliyun_acs3(inputs),
        ("tencent-cos", "cos_sign_request") => cloud::tencent_cos(inputs),
        ("s3-sigv4", "sigv4_sign_request") => cloud::s3(inputs, false),
        ("s3-sigv4", "sigv4_presign") => cloud::s3(inputs, true),
        ("chaojiying", op) if op.starts_with("chaojiying_") => captcha::chaojiying(op, inputs),
        _ => Err(format!(
            "unknown provider/operation `{provider}` / `{operation}`"
        )),
    }
}

fn signer(keys: &Value, names: &[&str]) -> Result<RsaSigner, String> {
    let pem = names
        .iter()
        .find_map(|n| keys[*n].as_str())
        .ok_or_else(|| format!("keys: one of {names:?} is required"))?;
    RsaSigner::from_pem(pem).map_err(|e| format!("keys: {e}"))
}
