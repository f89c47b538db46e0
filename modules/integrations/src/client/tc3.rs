//! Tencent Cloud API 3.0, TC3-HMAC-SHA256 (`PROTOCOLS.md` §3): the SMS API.

use chrono::DateTime;
use serde::Serialize;

use super::digest::{hmac_sha256, sha256_hex};

/// One request to sign.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub service: &'a str,
    pub host: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub region: Option<&'a str>,
    pub language: Option<&'a str>,
    /// STS session token (sent as `X-TC-Token`, not signed).
    pub token: Option<&'a str>,
    pub timestamp: i64,
    pub http_method: &'a str,
    pub canonical_uri: &'a str,
    /// The URL query exactly as sent (GET), "" for POST.
    pub canonical_query_string: &'a str,
    pub content_type: &'a str,
    /// Lower-case names of the signed headers (`content-type`, `host`, …).
    pub signed_header_names: &'a [String],
    /// The exact body bytes ("" for GET).
    pub payload: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    pub date: String,
    pub hashed_request_payload: String,
    pub canonical_headers: String,
    pub signed_headers: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub credential_scope: String,
    pub string_to_sign: String,
    pub secret_date_hex: String,
    pub secret_service_hex: String,
    pub secret_signing_hex: String,
    pub signature: String,
    pub authorization: String,
    /// Every header the request must carry (names lower-case).
    pub required_headers: serde_json::Map<String, serde_json::Value>,
}

impl Request<'_> {
    fn header_value(&self, name: &str) -> String {
        match name {
            "content-type" => self.content_type.to_string(),
            "host" => self.host.to_string(),
            "x-tc-action" => self.action.to_string(),
            "x-tc-version" => self.version.to_string(),
            "x-tc-timestamp" => self.timestamp.to_string(),
            "x-tc-region" => self.region.unwrap_or_default().to_string(),
            "x-tc-language" => self.language.unwrap_or_default().to_string(),
            _ => String::new(),
        }
    }

    pub fn sign(&self) -> Signed {
        // The scope's date is the timestamp's UTC date, not the local one.
        let date = DateTime::from_timestamp(self.timestamp, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let mut names: Vec<String> = self
            .signed_header_names
            .iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        names.sort();
        let canonical_headers: String = names
            .iter()
            .map(|n| format!("{n}:{}\n", self.header_value(n).trim().to_ascii_lowercase()))
            .collect();
        let signed_headers = names.join(";");
        let hashed_request_payload = sha256_hex(self.payload.as_bytes());
        let canonical_request = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{hashed_request_payload}",
            self.http_method, self.canonical_uri, self.canonical_query_string
        );
        let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
        let credential_scope = format!("{date}/{}/tc3_request", self.service);
        let string_to_sign = format!(
            "TC3-HMAC-SHA256\n{}\n{credential_scope}\n{hashed_canonical_request}",
            self.timestamp
        );
        let secret_date = hmac_sha256(
            format!("TC3{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let secret_service = hmac_sha256(&secret_date, self.service.as_bytes());
        let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
        let signature = hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "TC3-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.secret_id
        );
        let mut required = serde_json::Map::new();
        let mut put = |k: &str, v: String| {
            required.insert(k.to_string(), serde_json::Value::String(v));
        };
        put("authorization", authorization.clone());
        put("content-type", self.content_type.to_string());
        put("host", self.host.to_string());
        put("x-tc-action", self.action.to_string());
        put("x-tc-timestamp", self.timestamp.to_string());
        put("x-tc-version", self.version.to_string());
        if let Some(region) = self.region.filter(|r| !r.is_empty()) {
            put("x-tc-region", region.to_string());
        }
        if let Some(language) = self.language.filter(|l| !l.is_empty()) {
            put("x-tc-language", language.to_string());
        }
        if let Some(token) = self.token.filter(|t| !t.is_empty()) {
            put("x-tc-token", token.to_string());
        }
        Signed {
            date,
            hashed_request_payload,
            canonical_headers,
            signed_headers,
            canonical_request,
            hashed_canonical_request,
            credential_scope,
            string_to_sign,
            secret_date_hex: hex::encode(secret_date),
            secret_service_hex: hex::encode(secret_service),
            secret_signing_hex: hex::encode(secret_signing),
            signature,
            authorization,
            required_headers: required,
        }
    }
}

/// A `GET` query the way the SDK writes it: arrays flattened as `Name.N` (0-based),
/// RFC 3986 encoding, in the parameters' order (not sorted).
pub fn get_query(params: &serde_json::Map<String, serde_json::Value>) -> String {
    use shopops_kernel::encoding::rfc3986;
    let mut parts = Vec::new();
    for (k, v) in params {
        match v {
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    parts.push(format!(
                        "{}={}",
                        rfc3986(&format!("{k}.{i}")),
                        rfc3986(&scalar(item))
                    ));
                }
            }
            serde_json::Value::Null => {}
            other => parts.push(format!("{}={}", rfc3986(k), rfc3986(&scalar(other)))),
        }
    }
    parts.join("&")
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
