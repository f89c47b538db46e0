//! The server's customer-service API as the agent uses it (docs/cs-messages.md, "The
//! desktop agent's protocol"): the shop's settings, posting buyer messages, leasing
//! replies from the outbox, acknowledging them, and heartbeats.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a call to the server can end in.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer (server down, network, timeout) or a 5xx / 429: try again later.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// The server refused the request: `status`, its error `code` and message.
    #[error("server refused ({status}): {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

impl ApiError {
    /// Worth trying again unchanged: the server may take it later. A refused
    /// credential, permission or shop (401, 403, 404) is too: an admin can fix the
    /// token or the shop's assignment while the agent keeps what it read.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Refused { status, .. } => matches!(status, 401 | 403 | 404 | 408 | 429),
        }
    }
}

/// The settings of a shop the agent needs (`GET /cs/shops/{id}`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ShopSettings {
    pub name: String,
    /// The chat window's title (a part of it) to type replies into.
    pub qianniu_title: String,
    /// `[x, y, w, h]` on the screen; empty when not set.
    pub ocr_region: Vec<i64>,
    pub unread_threshold: f64,
}

/// A buyer message as the agent posts it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NewMessage {
    pub shop_id: i64,
    pub customer_id: String,
    pub content: String,
    pub received_at: DateTime<Utc>,
}

/// A reply to type (`GET /cs/outbox`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct OutboxItem {
    pub message_id: i64,
    pub shop_id: i64,
    pub text: String,
    /// Seconds to wait before typing it.
    pub reply_delay: i64,
}

pub struct Server {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Server {
    /// `base`: the server's address (`https://shopops.example.com`); `token`: an API
    /// token with the agent's permissions.
    pub fn new(base: &str, token: String) -> anyhow::Result<Self> {
        // reqwest is built on rustls without a default crypto provider (one for the
        // whole workspace); a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("shopops-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: format!("{}/api/v1", base.trim_end_matches('/')),
            token,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ApiError> {
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return response.json().await.map_err(|e| {
                ApiError::Unavailable(format!("unreadable answer: {}", e.without_url()))
            });
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::Unavailable(format!("HTTP {status}")));
        }
        // The error envelope: {"error": {"code", "message", …}}.
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let field = |name: &str| body["error"][name].as_str().unwrap_or_default().to_owned();
        Err(ApiError::Refused {
            status: status.as_u16(),
            code: field("code"),
            message: field("message"),
        })
    }

    pub async fn shop(&self, shop_id: i64) -> Result<ShopSettings, ApiError> {
        self.send(self.request(Method::GET, &format!("/cs/shops/{shop_id}")))
            .await
    }

    /// Posts a buyer message under `key`: posting it again with the same key is the
    /// same message.
    pub async fn post_message(&self, message: &NewMessage, key: &str) -> Result<(), ApiError> {
        let body = json!({
            "shop_id": message.shop_id,
            "customer_id": message.customer_id,
            "content": message.content,
            "source": "qianniu",
            "received_at": message.received_at,
        });
        let request = self
            .request(Method::POST, "/cs/messages")
            .header("Idempotency-Key", key)
            .json(&body);
        self.send::<serde_json::Value>(request).await.map(drop)
    }

    /// Leases up to 10 replies of the shop.
    pub async fn take_outbox(&self, shop_id: i64) -> Result<Vec<OutboxItem>, ApiError> {
        let request = self
            .request(Method::GET, "/cs/outbox")
            .query(&[("shop_id", shop_id), ("limit", 10)]);
        self.send(request).await
    }

    /// `error`: None when the reply was sent, else why it was not.
    pub async fn ack(&self, message_id: i64, error: Option<&str>) -> Result<(), ApiError> {
        let body = match error {
            None => json!({ "result": "sent" }),
            Some(reason) => json!({ "result": "failed", "error": reason }),
        };
        let request = self
            .request(Method::POST, &format!("/cs/outbox/{message_id}/ack"))
            .json(&body);
        self.send::<serde_json::Value>(request).await.map(drop)
    }

    pub async fn heartbeat(&self, shop_ids: &[i64], host: &str) -> Result<(), ApiError> {
        let body = json!({
            "shop_ids": shop_ids,
            "version": env!("CARGO_PKG_VERSION"),
            "host": host,
        });
        let request = self
            .request(Method::POST, "/cs/agents/heartbeat")
            .json(&body);
        self.send::<serde_json::Value>(request).await.map(drop)
    }
}
