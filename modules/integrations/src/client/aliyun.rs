//! Aliyun OpenAPI signatures (`PROTOCOLS.md` §4): the RPC scheme (HMAC-SHA1,
//! `SignatureVersion` 1.0) and V3 (ACS3-HMAC-SHA256). Percent-encoding is RFC 3986
//! (space `%20`, `*` `%2A`, `~` kept) in both.

use serde::Serialize;
use shopops_kernel::encoding::rfc3986 as pe;

use super::digest::{b64, hmac_sha1, hmac_sha256, sha256_hex};

/// An RPC-signed request.
#[derive(Debug, Clone, Serialize)]
pub struct RpcSigned {
    pub canonicalized_query_string: String,
    pub string_to_sign: String,
    pub signature: String,
    pub signature_url_encoded: String,
    /// The parameters in the order given, `Signature` last (`a=b&…`, encoded).
    pub query_with_signature: String,
}

/// Signs `params` (every parameter but `Signature`, query and body alike) for `method`.
pub fn rpc_sign(method: &str, access_key_secret: &str, params: &[(String, String)]) -> RpcSigned {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let canonicalized_query_string = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", pe(k), pe(v)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!("{method}&%2F&{}", pe(&canonicalized_query_string));
    let signature = b64(&hmac_sha1(
        format!("{access_key_secret}&").as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let signature_url_encoded = pe(&signature);
    let mut query: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| format!("{}={}", pe(k), pe(v)))
        .collect();
    query.push(format!("Signature={signature_url_encoded}"));
    RpcSigned {
        canonicalized_query_string,
        string_to_sign,
        signature,
        signature_url_encoded,
        query_with_signature: query.join("&"),
    }
}

/// The published examples' URL form: every parameter with `Signature`, sorted by key.
pub fn rpc_sorted_url(endpoint: &str, params: &[(String, String)], signature: &str) -> String {
    let mut all: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .cloned()
        .collect();
    all.push(("Signature".into(), signature.into()));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let query = all
        .iter()
        .map(|(k, v)| format!("{}={}", pe(k), pe(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("http://{endpoint}/?{query}")
}

/// A V3-signed request.
#[derive(Debug, Clone, Serialize)]
pub struct Acs3Signed {
    pub canonical_query_string: String,
    pub canonical_headers: String,
    pub signed_headers: String,
    pub hashed_request_payload: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// Signs with ACS3-HMAC-SHA256: `query` (API parameters of an RPC-style call) and the
/// headers to sign (`host`, every `x-acs-*`, `content-type` when present, and whatever
/// else the caller chooses to sign).
pub fn acs3_sign(
    method: &str,
    canonical_uri: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload: &[u8],
    access_key_id: &str,
    access_key_secret: &str,
) -> Acs3Signed {
    let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (pe(k), pe(v))).collect();
    q.sort();
    let canonical_query_string = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    h.sort();
    let canonical_headers: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = h
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let hashed_request_payload = sha256_hex(payload);
    let canonical_request = format!(
        "{method}\n{canonical_uri}\n{canonical_query_string}\n{canonical_headers}\n{signed_headers}\n{hashed_request_payload}"
    );
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let string_to_sign = format!("ACS3-HMAC-SHA256\n{hashed_canonical_request}");
    let signature = hex::encode(hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let authorization = format!(
        "ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    Acs3Signed {
        canonical_query_string,
        canonical_headers,
        signed_headers,
        hashed_request_payload,
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}
