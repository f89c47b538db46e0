//! AWS Signature Version 4 for S3-compatible stores (`PROTOCOLS.md` §5b): header
//! authorisation and presigned URLs. Written here rather than with `aws-sigv4`: that
//! crate brings the AWS SDK runtime with it, and the 11 vectors (5 published AWS
//! examples, 6 botocore runs against COS) pin down everything this needs.

use serde::Serialize;
use shopops_kernel::encoding::{rfc3986, rfc3986_path};

use super::digest::{hmac_sha256, sha256_hex};

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What to sign: headers by lower-case name (`host`, `x-amz-date`,
/// `x-amz-content-sha256`, … all of them signed).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
    pub http_method: &'a str,
    /// Already URI-encoded (`/` kept).
    pub canonical_uri: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub payload_sha256: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Signed {
    pub canonical_query_string: String,
    pub canonical_headers: String,
    pub signed_headers: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub credential_scope: String,
    pub string_to_sign: String,
    pub signing_key_hex: String,
    pub signature: String,
    pub authorization: String,
}

/// `/` + the object key, encoded (`/` kept).
pub fn canonical_uri(object_key: Option<&str>) -> String {
    format!("/{}", rfc3986_path(object_key.unwrap_or("")))
}

pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    q.sort();
    q.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

impl Request<'_> {
    pub fn sign(&self) -> Signed {
        let canonical_query_string = canonical_query(self.query);
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), collapse(v)))
            .collect();
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request = format!(
            "{}\n{}\n{canonical_query_string}\n{canonical_headers}\n{signed_headers}\n{}",
            self.http_method, self.canonical_uri, self.payload_sha256
        );
        let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
        let date = &self.amz_date[..self.amz_date.len().min(8)];
        let credential_scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{hashed_canonical_request}",
            self.amz_date
        );
        let k_date = hmac_sha256(
            format!("AWS4{}", self.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, self.service.as_bytes());
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key_id
        );
        Signed {
            canonical_query_string,
            canonical_headers,
            signed_headers,
            canonical_request,
            hashed_canonical_request,
            credential_scope,
            string_to_sign,
            signing_key_hex: hex::encode(k_signing),
            signature,
            authorization,
        }
    }
}

/// Header values are trimmed and inner runs of spaces collapsed.
fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `X-Amz-*` query of a presigned URL (all but the signature).
pub fn presign_query(
    access_key_id: &str,
    credential_scope: &str,
    amz_date: &str,
    expires: u64,
    session_token: Option<&str>,
) -> Vec<(String, String)> {
    let mut q = vec![
        (
            "X-Amz-Algorithm".to_string(),
            "AWS4-HMAC-SHA256".to_string(),
        ),
        (
            "X-Amz-Credential".into(),
            format!("{access_key_id}/{credential_scope}"),
        ),
        ("X-Amz-Date".into(), amz_date.into()),
        ("X-Amz-Expires".into(), expires.to_string()),
    ];
    if let Some(token) = session_token.filter(|t| !t.is_empty()) {
        q.push(("X-Amz-Security-Token".into(), token.into()));
    }
    q.push(("X-Amz-SignedHeaders".into(), "host".into()));
    q
}

/// The credential scope of a date and region (what [`presign_query`] needs first).
pub fn credential_scope(amz_date: &str, region: &str, service: &str) -> String {
    format!(
        "{}/{region}/{service}/aws4_request",
        &amz_date[..amz_date.len().min(8)]
    )
}
