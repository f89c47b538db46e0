//! The cloud providers' signatures: Tencent Cloud TC3 (SMS), Aliyun RPC and ACS3
//! (SMS), Tencent COS and S3 SigV4 (storage, presigned URLs too).

use serde_json::{json, Map, Value};
use shopops_kernel::encoding::{rfc3986_path, rfc3986_query};

use super::{merge, opt, pairs, pairs_of, s, wire_request, with_query, Out};
use crate::client::{aliyun, cos, digest, sigv4, tc3};

pub(super) fn tencent(i: &Value) -> Out {
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

pub(super) fn aliyun_rpc(i: &Value) -> Out {
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

pub(super) fn aliyun_acs3(i: &Value) -> Out {
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

pub(super) fn tencent_cos(i: &Value) -> Out {
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

pub(super) fn s3(i: &Value, presign: bool) -> Out {
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
