//! Tencent COS (XML API, its own signature): put, get, delete, presigned URLs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shopops_kernel::encoding::rfc3986_path;
use shopops_kernel::outside::{Repeat, Target};

use super::object_store::ObjectStore;
use super::{send, Answer, PresignMethod, ProviderError};
use crate::client::cos;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub secret_id: SecretString,
    pub secret_key: SecretString,
    /// `<name>-<appid>`.
    pub bucket: String,
    pub region: String,
    /// Default `https://<bucket>.cos.<region>.myqcloud.com`.
    pub endpoint: Option<String>,
    /// How long a signed request stays valid.
    #[serde(default = "default_sign_secs")]
    pub sign_secs: u64,
}

fn default_sign_secs() -> u64 {
    600
}

pub struct Cos {
    settings: Settings,
    endpoint: String,
    host: String,
    target: Arc<Target>,
}

impl Cos {
    pub fn new(settings: Settings, target: Arc<Target>) -> Self {
        let endpoint = settings.endpoint.clone().unwrap_or_else(|| {
            format!(
                "https://{}.cos.{}.myqcloud.com",
                settings.bucket, settings.region
            )
        });
        let host = endpoint
            .split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(&endpoint)
            .trim_end_matches('/')
            .to_string();
        Self {
            settings,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            host,
            target,
        }
    }

    fn key_time(&self, secs: u64) -> String {
        let now = chrono::Utc::now().timestamp();
        format!("{};{}", now - 60, now + secs as i64)
    }

    fn authorize(&self, method: &str, key: &str, headers: &[(String, String)]) -> String {
        cos::sign(
            self.settings.secret_id.expose_secret(),
            self.settings.secret_key.expose_secret(),
            method,
            &format!("/{key}"),
            &[],
            headers,
            &self.key_time(self.settings.sign_secs),
        )
        .authorization
    }
}

#[async_trait::async_trait]
impl ObjectStore for Cos {
    async fn call(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Answer, ProviderError> {
        let mut headers = vec![("host".to_string(), self.host.clone())];
        if let Some((bytes, content_type)) = &body {
            headers.push(("content-type".into(), content_type.to_string()));
            headers.push(("content-length".into(), bytes.len().to_string()));
        }
        let auth = self.authorize(method.as_str(), key, &headers);
        let url = format!("{}{}", self.endpoint, rfc3986_path(&format!("/{key}")));
        let mut request = self
            .target
            .client()
            .request(method, url)
            .header("Authorization", auth);
        if let Some((bytes, content_type)) = body {
            request = request.header("Content-Type", content_type).body(bytes);
        }
        let request = request
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        // PUT and DELETE of one key are idempotent: repeating them is safe.
        send(&self.target, request, Repeat::Always, false).await
    }

    fn presign(
        &self,
        key: &str,
        method: PresignMethod,
        expires: Duration,
    ) -> Result<String, ProviderError> {
        let verb = method.as_str();
        let headers = vec![("host".to_string(), self.host.clone())];
        let signed = cos::sign(
            self.settings.secret_id.expose_secret(),
            self.settings.secret_key.expose_secret(),
            verb,
            &format!("/{key}"),
            &[],
            &headers,
            &self.key_time(expires.as_secs()),
        );
        let url = cos::presigned_url(
            &self.host,
            &rfc3986_path(&format!("/{key}")),
            self.settings.secret_id.expose_secret(),
            &signed,
            &[],
            None,
        );
        // The signature does not cover the scheme: keep the endpoint's.
        Ok(match self.endpoint.split_once("://") {
            Some((scheme, _)) => url.replacen("https://", &format!("{scheme}://"), 1),
            None => url,
        })
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.endpoint).await
    }
}
