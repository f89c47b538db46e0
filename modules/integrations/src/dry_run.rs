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

use serde_json::{json, Map, Value};
use shopops_kernel::encoding::{rfc3986_path, rfc3986_query};

use crate::client::rsa::{Certificate, RsaSigner, RsaVerifier};
use crate::client::{alipay, aliyun, chaojiying, cos, digest, sigv4, tc3, wechatpay};

/// The multipart boundary the Chaojiying vectors were recorded with.
pub const PINNED_BOUNDARY: &str = "0123456789abcdef0123456789abcdef";
const WECHATPAY_HOST: &str = "https://api.mch.weixin.qq.com";

type Out = Result<Value, String>;

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("inputs.{key}: a string is required"))
}

fn opt<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v[key].as_str()
}

/// A JSON object of strings (or numbers) as ordered pairs.
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

/// The request body a vector's inputs give: `payload`, or the SDK call's `Body`, or
/// none for a method without one; None when the inputs do not say.
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
        ("wechatpay", "sign_request") => wechatpay_request(keys, inputs),
        ("wechatpay", "jsapi_pay_sign") => wechatpay_pay_sign(keys, inputs),
        ("wechatpay", "verify_and_decrypt_callback") => wechatpay_callback(keys, inputs),
        ("wechatpay", "aead_decrypt") => aead(inputs),
        ("alipay", "sign_request") => alipay_request(keys, inputs),
        ("alipay", "sign_content_rules") => alipay_rules(keys, inputs),
        ("alipay", "verify_async_notify") => alipay_notify(keys, inputs),
        ("tencent-sms", "tc3_sign_request") => tencent(inputs),
        ("aliyun-sms", "rpc_sign_request") => aliyun_rpc(inputs),
        ("aliyun-sms", "acs3_sign_request") => aliyun_acs3(inputs),
        ("tencent-cos", "cos_sign_request") => tencent_cos(inputs),
        ("s3-sigv4", "sigv4_sign_request") => s3(inputs, false),
        ("s3-sigv4", "sigv4_presign") => s3(inputs, true),
        ("chaojiying", op) if op.starts_with("chaojiying_") => chaojiying(op, inputs),
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

fn wechatpay_request(keys: &Value, i: &Value) -> Out {
    let signer = signer(keys, &["merchant_private_key_pem"])?;
    let method = s(i, "http_method")?;
    let url = s(i, "canonical_url")?;
    let body = opt(i, "body").unwrap_or("");
    let timestamp = i["timestamp"]
        .as_i64()
        .ok_or("inputs.timestamp: Unix seconds are required")?;
    let merchant = wechatpay::Merchant {
        mchid: s(keys, "mchid")?,
        serial_no: s(keys, "merchant_serial_no")?,
        signer: &signer,
    };
    let signed = merchant.sign(method, url, timestamp, s(i, "nonce_str")?, body);
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    let headers = vec![
        json!(["Accept", "application/json"]),
        json!(["Content-Type", "application/json"]),
        json!(["Authorization", signed.authorization]),
    ];
    merge(
        &mut out,
        json!({ "wire_request": { "method": method, "target": url, "url": format!("{WECHATPAY_HOST}{url}"), "body": body,
            "body_sha256": digest::sha256_hex(body.as_bytes()), "body_length": body.len(), "headers": headers } }),
    );
    Ok(out)
}

fn wechatpay_pay_sign(keys: &Value, i: &Value) -> Out {
    let signer = signer(keys, &["merchant_private_key_pem"])?;
    let p = wechatpay::pay_sign(
        &signer,
        s(i, "appId")?,
        s(i, "timeStamp")?,
        s(i, "nonceStr")?,
        s(i, "package")?,
    );
    serde_json::to_value(p).map_err(|e| e.to_string())
}

/// The platform keys a vector file carries: the WeChat Pay public key and certificate.
pub fn wechatpay_platform_keys(keys: &Value) -> Result<wechatpay::PlatformKeys, String> {
    let mut out = wechatpay::PlatformKeys {
        public_key_id: opt(keys, "platform_public_key_id").map(str::to_string),
        ..Default::default()
    };
    if let Some(pem) = opt(keys, "platform_public_key_pem") {
        out.public_key = Some(RsaVerifier::from_pem_or_base64(pem).map_err(|e| e.to_string())?);
    }
    if let Some(pem) = opt(keys, "platform_certificate_pem") {
        let cert = Certificate::from_pem(pem).map_err(|e| e.to_string())?;
        out.certificates
            .insert(cert.serial_no.clone(), cert.verifier);
    }
    Ok(out)
}

fn wechatpay_callback(keys: &Value, i: &Value) -> Out {
    let platform = wechatpay_platform_keys(keys)?;
    let headers = wechatpay::SignatureHeaders::from_pairs(
        i["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
    );
    let body = s(i, "body")?;
    let key = opt(i, "apiv3_key")
        .or_else(|| opt(keys, "apiv3_key"))
        .ok_or("inputs.apiv3_key is required")?;
    let now = i["verify_at_unix"]
        .as_i64()
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let outcome = wechatpay::open_callback(&platform, key.as_bytes(), &headers, body, now);
    let mut out = serde_json::to_value(&outcome).map_err(|e| e.to_string())?;
    let notification: Value = serde_json::from_str(body).unwrap_or_default();
    let r = &notification["resource"];
    merge(
        &mut out,
        json!({ "aead": { "nonce_utf8": r["nonce"], "associated_data_utf8": r["associated_data"],
            "ciphertext_b64": r["ciphertext"], "tag_is_last_16_bytes_of_ciphertext": true } }),
    );
    Ok(out)
}

fn aead(i: &Value) -> Out {
    let plaintext = wechatpay::decrypt(
        s(i, "key_utf8")?.as_bytes(),
        s(i, "nonce_utf8")?,
        opt(i, "associated_data_utf8").unwrap_or(""),
        s(i, "ciphertext_b64")?,
    );
    Ok(match plaintext {
        Ok(p) => json!({ "plaintext": p, "decrypt_ok": true }),
        Err(e) => json!({ "plaintext": null, "decrypt_ok": false, "error": e.to_string() }),
    })
}

fn alipay_signer(keys: &Value) -> Result<RsaSigner, String> {
    signer(
        keys,
        &[
            "app_private_key_pkcs1_pem",
            "app_private_key_pkcs8_pem",
            "app_private_key_pem",
        ],
    )
}

fn alipay_request(keys: &Value, i: &Value) -> Out {
    let signer = alipay_signer(keys)?;
    let call = alipay::Call {
        gateway: opt(i, "gateway").unwrap_or("https://openapi.alipay.com/gateway.do"),
        app_id: s(i, "app_id")?,
        method: s(i, "method")?,
        charset: opt(i, "charset").unwrap_or("utf-8"),
        format: opt(i, "format").unwrap_or("json"),
        sign_type: opt(i, "sign_type").unwrap_or("RSA2"),
        version: opt(i, "version").unwrap_or("1.0"),
        timestamp: s(i, "timestamp")?,
        notify_url: opt(i, "notify_url"),
        return_url: opt(i, "return_url"),
        app_auth_token: opt(i, "app_auth_token"),
        biz_content: s(i, "biz_content")?,
    };
    let signed = call.sign(&signer);
    let target = signed
        .post_url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_default();
    let mut page_query = signed.query_params.clone();
    page_query.insert("biz_content".into(), json!(call.biz_content));
    Ok(json!({
        "sign_content": signed.sign_content,
        "sign": signed.sign,
        "query_params": signed.query_params,
        "body_params": signed.body_params,
        // Page pay as a GET redirect carries biz_content in the URL too.
        "page_query_params": page_query,
        "wire_request": {
            "method": "POST", "target": target, "body": signed.post_body,
            "body_sha256": digest::sha256_hex(signed.post_body.as_bytes()), "body_length": signed.post_body.len(),
            "url": if call.method.ends_with(".page.pay") || call.method.ends_with(".wap.pay") { &signed.page_url } else { &signed.post_url },
            "form_action": signed.post_url, "form_fields": signed.body_params,
            "headers": [["Content-type", "application/x-www-form-urlencoded;charset=utf-8"]],
        },
    }))
}

fn alipay_rules(keys: &Value, i: &Value) -> Out {
    let signer = alipay_signer(keys)?;
    let params = i["params"].as_object().ok_or("inputs.params is required")?;
    let content = alipay::sign_content(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(json!({ "sign_content": content, "sign": signer.sign_b64(content.as_bytes()) }))
}

fn alipay_notify(keys: &Value, i: &Value) -> Out {
    let verifier = RsaVerifier::from_pem_or_base64(
        opt(keys, "alipay_public_key_pem")
            .or_else(|| opt(keys, "alipay_public_key_bare_base64"))
            .ok_or("keys.alipay_public_key_pem is required")?,
    )
    .map_err(|e| e.to_string())?;
    let outcome = alipay::verify_notify(&verifier, s(i, "form_body")?, None);
    let mut out = serde_json::to_value(&outcome).map_err(|e| e.to_string())?;
    if !outcome.signature_valid {
        // What Alipay signed is unknown when the signature does not hold.
        if let Some(o) = out.as_object_mut() {
            o.remove("signed_sign_content");
        }
    }
    merge(
        &mut out,
        json!({ "sign_content": outcome.signed_sign_content, "excluded_keys": ["sign", "sign_type"], "params_decoded": outcome.params }),
    );
    Ok(out)
}

fn tencent(i: &Value) -> Out {
    let names: Vec<String> = i["signed_header_names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec!["content-type".into(), "host".into()]);
    let request = tc3::Request {
        secret_id: s(i, "secret_id")?,
        secret_key: s(i, "secret_key")?,
        service: s(i, "service")?,
        host: s(i, "host")?,
        action: s(i, "action")?,
        version: s(i, "version")?,
        region: opt(i, "region"),
        language: opt(i, "language"),
        token: opt(i, "token"),
        timestamp: i["timestamp"]
            .as_i64()
            .ok_or("inputs.timestamp is required")?,
        http_method: s(i, "http_method")?,
        canonical_uri: opt(i, "canonical_uri").unwrap_or("/"),
        canonical_query_string: opt(i, "canonical_query_string").unwrap_or(""),
        content_type: s(i, "content_type")?,
        signed_header_names: &names,
        payload: opt(i, "payload").unwrap_or(""),
    };
    let signed = request.sign();
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    let target = with_query(request.canonical_uri, request.canonical_query_string);
    let headers: Vec<Value> = signed
        .required_headers
        .iter()
        .map(|(k, v)| json!([k, v]))
        .collect();
    merge(
        &mut out,
        json!({ "wire_request": { "method": request.http_method, "target": target, "url": format!("https://{}{target}", request.host),
            "body": request.payload, "body_sha256": digest::sha256_hex(request.payload.as_bytes()), "body_length": request.payload.len(), "headers": headers } }),
    );
    Ok(out)
}

fn aliyun_rpc(i: &Value) -> Out {
    let method = s(i, "http_method")?;
    let secret = s(i, "access_key_secret")?;
    let params = pairs_of(i, "signed_params", "params");
    let signed = aliyun::rpc_sign(method, secret, &params);
    let post = aliyun::rpc_sign("POST", secret, &params);
    let endpoint = opt(i, "endpoint").unwrap_or("dysmsapi.aliyuncs.com");
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    merge(
        &mut out,
        json!({
            "signed_url": aliyun::rpc_sorted_url(endpoint, &params, &signed.signature),
            "post_variant": { "http_method": "POST", "string_to_sign": post.string_to_sign, "signature": post.signature },
            "wire_request": { "method": method, "target": format!("/?{}", signed.query_with_signature), "body": "",
                "body_sha256": digest::sha256_hex(b""), "body_length": 0,
                "headers": rpc_headers(&params) },
        }),
    );
    Ok(out)
}

/// The RPC calls' informational headers (not signed; the SDKs send them).
fn rpc_headers(params: &[(String, String)]) -> Value {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    json!([
        ["x-acs-action", get("Action")],
        ["x-acs-version", get("Version")]
    ])
}

fn aliyun_acs3(i: &Value) -> Out {
    let method = s(i, "http_method")?;
    let uri = opt(i, "canonical_uri").unwrap_or("/");
    let query = pairs(&i["query"]);
    let headers = pairs_of(i, "signed_headers_input", "headers");
    let payload = opt(i, "payload").unwrap_or("");
    let signed = aliyun::acs3_sign(
        method,
        uri,
        &query,
        &headers,
        payload.as_bytes(),
        s(i, "access_key_id")?,
        s(i, "access_key_secret")?,
    );
    let target = with_query(uri, &rfc3986_query(&query));
    let mut to_send: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
        .collect();
    to_send.insert("authorization".into(), json!(signed.authorization));
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    let wire_headers: Vec<Value> = to_send.iter().map(|(k, v)| json!([k, v])).collect();
    merge(
        &mut out,
        json!({
            "request_line": format!("{method} {target} HTTP/1.1"),
            "headers_to_send": to_send,
            "wire_request": { "method": method, "target": target, "body": payload,
                "body_sha256": digest::sha256_hex(payload.as_bytes()), "body_length": payload.len(), "headers": wire_headers },
        }),
    );
    Ok(out)
}

fn tencent_cos(i: &Value) -> Out {
    let secret_id = s(i, "secret_id")?;
    let method = s(i, "http_method")?;
    let params = pairs_of(i, "signed_params", "params");
    let mut headers = pairs_of(i, "signed_headers", "headers");
    let token = opt(i, "token");
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-cos-security-token"))
        {
            headers.push(("x-cos-security-token".into(), t.into()));
        }
    }
    let path = s(i, "uri_pathname_for_signing")?;
    let signed = cos::sign(
        secret_id,
        s(i, "secret_key")?,
        method,
        path,
        &params,
        &headers,
        s(i, "key_time")?,
    );
    let wire_path = opt(i, "wire_path")
        .map(str::to_string)
        .unwrap_or_else(|| rfc3986_path(path));
    let target = with_query(&wire_path, &rfc3986_query(&params));
    let host = opt(i, "host")
        .map(str::to_string)
        .or_else(|| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("host"))
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_default();
    let presigned = cos::presigned_url(&host, &wire_path, secret_id, &signed, &params, token);
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    let mut wire = wire_request(i, method, &host, &target, &headers, &signed.authorization);
    if i["sdk_call"]["op"] == "presign" {
        wire = json!({ "presigned_url": presigned });
    }
    merge(
        &mut out,
        json!({ "wire_request": wire, "presigned_url": presigned }),
    );
    Ok(out)
}

fn s3(i: &Value, presign: bool) -> Out {
    let access_key_id = s(i, "access_key_id")?;
    let amz_date = s(i, "amz_date")?;
    let region = s(i, "region")?;
    let service = opt(i, "service").unwrap_or("s3");
    let host = s(i, "host")?;
    let token = opt(i, "session_token");
    let canonical_uri = opt(i, "canonical_uri")
        .map(str::to_string)
        .unwrap_or_else(|| sigv4::canonical_uri(opt(i, "object_key")));
    let mut query = pairs(&i["query"]);
    let (headers, payload_sha256) = if presign {
        if query.is_empty() {
            let scope = sigv4::credential_scope(amz_date, region, service);
            let expires = i["expires"].as_u64().unwrap_or(3600);
            query = sigv4::presign_query(access_key_id, &scope, amz_date, expires, token);
        }
        (
            vec![("host".to_string(), host.to_string())],
            sigv4::UNSIGNED_PAYLOAD.to_string(),
        )
    } else if i["signed_headers_input"].is_object() {
        (
            pairs(&i["signed_headers_input"]),
            s(i, "payload_sha256")?.to_string(),
        )
    } else {
        let payload_sha256 = opt(i, "payload_sha256")
            .map(str::to_string)
            .unwrap_or_else(|| digest::sha256_hex(opt(i, "payload").unwrap_or("").as_bytes()));
        let mut h = vec![("host".to_string(), host.to_string())];
        h.extend(pairs(&i["extra_headers"]));
        h.push(("x-amz-content-sha256".into(), payload_sha256.clone()));
        h.push(("x-amz-date".into(), amz_date.into()));
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            h.push(("x-amz-security-token".into(), t.into()));
        }
        (h, payload_sha256)
    };
    let request = sigv4::Request {
        access_key_id,
        secret_access_key: s(i, "secret_access_key")?,
        region,
        service,
        amz_date,
        http_method: s(i, "http_method")?,
        canonical_uri: &canonical_uri,
        query: &query,
        headers: &headers,
        payload_sha256: &payload_sha256,
    };
    let signed = request.sign();
    let mut out = serde_json::to_value(&signed).map_err(|e| e.to_string())?;
    let cq = signed.canonical_query_string.clone();
    let target = if cq.is_empty() {
        canonical_uri.clone()
    } else {
        format!("{canonical_uri}?{cq}")
    };
    if presign {
        let sep = if cq.is_empty() { "" } else { "&" };
        let url = format!(
            "https://{host}{canonical_uri}?{cq}{sep}X-Amz-Signature={}",
            signed.signature
        );
        merge(&mut out, json!({ "url": url }));
    } else {
        let mut added = json!({ "x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256, "authorization": signed.authorization });
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            added["x-amz-security-token"] = json!(t);
        }
        merge(&mut out, json!({ "headers_added_by_signer": added }));
        let wire = wire_request(
            i,
            request.http_method,
            host,
            &target,
            &headers,
            &signed.authorization,
        );
        merge(&mut out, json!({ "wire_request": wire }));
    }
    Ok(out)
}

fn chaojiying(op: &str, i: &Value) -> Out {
    use base64::Engine;
    let user = s(i, "user")?;
    let password = s(i, "password")?;
    let softid = opt(i, "softid").unwrap_or("");
    let codetype = match &i["codetype"] {
        Value::Null => String::new(),
        v => scalar(v),
    };
    let endpoint = s(i, "endpoint")?;
    let body = match op {
        "chaojiying_postpic" => {
            let image = base64::engine::general_purpose::STANDARD
                .decode(s(i, "image_base64")?)
                .map_err(|e| format!("inputs.image_base64: {e}"))?;
            let boundary = opt(i, "boundary").unwrap_or(PINNED_BOUNDARY);
            chaojiying::postpic_multipart(user, password, softid, &codetype, &image, boundary)
        }
        "chaojiying_postpic_base64" => {
            chaojiying::postpic_base64(user, password, softid, &codetype, s(i, "image_base64")?)
        }
        "chaojiying_report_error" => {
            chaojiying::report_error(user, password, softid, s(i, "pic_id")?)
        }
        "chaojiying_get_score" => chaojiying::get_score(user, password),
        other => return Err(format!("unknown operation `{other}`")),
    };
    let target = endpoint
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    let form_fields: Map<String, Value> = body
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut wire = json!({ "method": "POST", "target": target, "url": endpoint,
        "body_sha256": digest::sha256_hex(&body.bytes), "body_length": body.bytes.len(),
        "headers": [["User-Agent", chaojiying::USER_AGENT], ["Content-Type", body.content_type]] });
    let mut out = json!({ "pass2": chaojiying::pass2(password), "form_fields": form_fields, "content_type": body.content_type });
    if op == "chaojiying_postpic" {
        wire["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(&body.bytes));
        let boundary = opt(i, "boundary").unwrap_or(PINNED_BOUNDARY);
        out["multipart"] = json!({ "boundary": boundary, "file_field": chaojiying::FILE_FIELD,
            "filename": chaojiying::FILENAME, "file_part_has_content_type": false });
    } else {
        wire["body"] = json!(String::from_utf8_lossy(&body.bytes));
    }
    out["wire_request"] = wire;
    Ok(out)
}
