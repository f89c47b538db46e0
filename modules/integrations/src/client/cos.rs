//! Tencent COS XML API request signatures (`PROTOCOLS.md` §5): HMAC-SHA1 over
//! `method\npath\nparams\nheaders\n`, the signing key the hex of HMAC-SHA1(secret,
//! KeyTime); carried in `Authorization` or, for a presigned URL, in the query.

use serde::Serialize;
use shopops_kernel::encoding::{quote_plus, rfc3986};

use super::digest::{hmac_sha1, sha1_hex};

#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    pub key_time: String,
    pub sign_key: String,
    pub url_param_list: String,
    pub http_parameters: String,
    pub header_list: String,
    pub http_headers: String,
    pub http_string: String,
    pub sha1_http_string: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// Lower-cased, encoded and sorted `k=v` pairs, and their names joined with `;`.
fn canonical(pairs: &[(String, String)]) -> (String, String) {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (rfc3986(&k.to_ascii_lowercase()), rfc3986(v)))
        .collect();
    encoded.sort();
    let list = encoded
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let joined = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    (joined, list)
}

/// Signs a request. `path` is the decoded object key with a leading `/`; `key_time`
/// is `start;end` in Unix seconds.
pub fn sign(
    secret_id: &str,
    secret_key: &str,
    method: &str,
    path: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
    key_time: &str,
) -> Signed {
    let sign_key = hex::encode(hmac_sha1(secret_key.as_bytes(), key_time.as_bytes()));
    let (http_parameters, url_param_list) = canonical(params);
    let (http_headers, header_list) = canonical(headers);
    let http_string = format!(
        "{}\n{path}\n{http_parameters}\n{http_headers}\n",
        method.to_ascii_lowercase()
    );
    let sha1_http_string = sha1_hex(http_string.as_bytes());
    let string_to_sign = format!("sha1\n{key_time}\n{sha1_http_string}\n");
    // The HMAC key is the sign key's hex text, not its bytes.
    let signature = hex::encode(hmac_sha1(sign_key.as_bytes(), string_to_sign.as_bytes()));
    let authorization = format!(
        "q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={key_time}&q-key-time={key_time}&q-header-list={header_list}&q-url-param-list={url_param_list}&q-signature={signature}"
    );
    Signed {
        key_time: key_time.into(),
        sign_key,
        url_param_list,
        http_parameters,
        header_list,
        http_headers,
        http_string,
        sha1_http_string,
        string_to_sign,
        signature,
        authorization,
    }
}

/// A presigned URL: the seven `q-*` fields (and the STS token) in the query, then the
/// signed parameters, each value form-encoded as the SDK writes them.
pub fn presigned_url(
    host: &str,
    wire_path: &str,
    secret_id: &str,
    signed: &Signed,
    params: &[(String, String)],
    token: Option<&str>,
) -> String {
    let mut query: Vec<(String, String)> = vec![
        ("q-sign-algorithm".into(), "sha1".into()),
        ("q-ak".into(), secret_id.into()),
        ("q-sign-time".into(), signed.key_time.clone()),
        ("q-key-time".into(), signed.key_time.clone()),
        ("q-header-list".into(), signed.header_list.clone()),
        ("q-url-param-list".into(), signed.url_param_list.clone()),
        ("q-signature".into(), signed.signature.clone()),
    ];
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        query.push(("x-cos-security-token".into(), token.into()));
    }
    query.extend(params.iter().cloned());
    let query = query
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("https://{host}{wire_path}?{query}")
}
