//! Any S3-compatible store (AWS S3, COS's S3 API, MinIO …), AWS Signature V4.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shopops_kernel::outside::{Repeat, Target};

use super::object_store::ObjectStore;
use super::{send, Answer, PresignMethod, ProviderError};
use crate::client::{digest, sigv4};

fn default_service() -> String {
    "s3".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    pub bucket: String,
    pub region: String,
    /// `https://s3.amazonaws.com`, `https://cos.ap-guangzhou.myqcloud.com`,
    /// `http://127.0.0.1:9000` …
    pub endpoint: String,
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, local stores).
    #[serde(default)]
    pub path_style: bool,
    #[serde(default = "default_service")]
    pub service: String,
}

pub struct S3 {
    settings: Settings,
    scheme: String,
    host: String,
    target: Arc<Target>,
}

impl S3 {
    pub fn new(settings: Settings, target: Arc<Target>) -> Self {
        let (scheme, authority) = settings
            .endpoint
            .split_once("://")
            .map(|(s, h)| (s.to_string(), h.trim_end_matches('/').to_string()))
            .unwrap_or_else(|| ("https".into(), settings.endpoint.clone()));
        let host = if settings.path_style {
            authority
        } else {
            format!("{}.{authority}", settings.bucket)
        };
        Self {
            settings,
            scheme,
            host,
            target,
        }
    }

    /// The canonical (and wire) path of a key.
    fn path(&self, key: &str) -> String {
        let key = if self.settings.path_style {
            format!("{}/{key}", self.settings.bucket)
        } else {
            key.to_string()
        };
        sigv4::canonical_uri(Some(&key))
    }

    fn now() -> String {
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3 {
    async fn call(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Answer, ProviderError> {
        let s = &self.settings;
        let amz_date = Self::now();
        let payload_sha256 =
            digest::sha256_hex(body.as_ref().map(|(b, _)| b.as_ref()).unwrap_or(b""));
        let mut headers = vec![
            ("host".to_string(), self.host.clone()),
            ("x-amz-content-sha256".into(), payload_sha256.clone()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        if let Some((_, content_type)) = &body {
            headers.push(("content-type".into(), content_type.to_string()));
        }
        if let Some(token) = &s.session_token {
            headers.push((
                "x-amz-security-token".into(),
                token.expose_secret().to_string(),
            ));
        }
        let path = self.path(key);
        let signed = sigv4::Request {
            access_key_id: s.access_key_id.expose_secret(),
            secret_access_key: s.secret_access_key.expose_secret(),
            region: &s.region,
            service: &s.service,
            amz_date: &amz_date,
            http_method: method.as_str(),
            canonical_uri: &path,
            query: &[],
            headers: &headers,
            payload_sha256: &payload_sha256,
        }
        .sign();
        let mut request = self
            .target
            .client()
            .request(method, format!("{}://{}{path}", self.scheme, self.host))
            .header("Authorization", signed.authorization);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some((bytes, _)) = body {
            request = request.body(bytes);
        }
        let request = request
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        send(&self.target, request, Repeat::Always, false).await
    }

    fn presign(
        &self,
        key: &str,
        method: PresignMethod,
        expires: Duration,
    ) -> Result<String, ProviderError> {
        let s = &self.settings;
        let amz_date = Self::now();
        let scope = sigv4::credential_scope(&amz_date, &s.region, &s.service);
        let token = s
            .session_token
            .as_ref()
            .map(|t| t.expose_secret().to_string());
        let query = sigv4::presign_query(
            s.access_key_id.expose_secret(),
            &scope,
            &amz_date,
            expires.as_secs(),
            token.as_deref(),
        );
        let path = self.path(key);
        let verb = method.as_str();
        let headers = vec![("host".to_string(), self.host.clone())];
        let signed = sigv4::Request {
            access_key_id: s.access_key_id.expose_secret(),
            secret_access_key: s.secret_access_key.expose_secret(),
            region: &s.region,
            service: &s.service,
            amz_date: &amz_date,
            http_method: verb,
            canonical_uri: &path,
            query: &query,
            headers: &headers,
            payload_sha256: sigv4::UNSIGNED_PAYLOAD,
        }
        .sign();
        Ok(format!(
            "{}://{}{path}?{}&X-Amz-Signature={}",
            self.scheme, self.host, signed.canonical_query_string, signed.signature
        ))
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.endpoint).await
    }
}
