//! One adapter interface per capability, and the adapters. Each adapter sends what
//! `client/` builds through its own outside-call target (pool, timeouts, transport
//! retries where safe, metrics) and maps the provider's answers to [`ProviderError`]s
//! the manager can act on.

pub mod alipay;
pub mod aliyun_sms;
pub mod chaojiying;
pub mod cos;
pub mod local;
pub mod object_store;
pub mod s3;
pub mod tencent_sms;
pub mod wechatpay;

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shopops_kernel::outside::{OutsideError, Repeat, Target};
use utoipa::ToSchema;

use crate::service::states::{PaymentStatus, RefundStatus};

/// What went wrong at a provider, as far as choosing the next step goes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Not reached, or failed on its side (5xx, throttled, circuit open, unreadable
    /// answer): the request had no effect; the next provider may be tried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself (a wrong phone number, an unknown order,
    /// too large an amount): another provider would not do better.
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    /// A write may or may not have taken effect (no answer after it was sent): check
    /// before trying it anywhere else.
    #[error("ambiguous: {0}")]
    Ambiguous(String),
}

impl ProviderError {
    pub fn rejected(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError::Rejected {
            code: code.into(),
            message: message.into(),
        }
    }

    /// From a transport failure of a request that changes something (`write`) or not.
    pub fn from_outside(err: OutsideError, write: bool) -> Self {
        if write && err.may_have_reached() {
            ProviderError::Ambiguous(err.to_string())
        } else {
            ProviderError::Unavailable(err.to_string())
        }
    }
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// China Standard Time (UTC+8, no daylight saving): the providers' calendar.
pub fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is in range"))
}

/// Sends through the provider's target and reads the whole answer.
pub async fn send(
    target: &Target,
    request: reqwest::Request,
    repeat: Repeat,
    write: bool,
) -> Result<Answer, ProviderError> {
    let response = target
        .send(request, repeat)
        .await
        .map_err(|e| ProviderError::from_outside(e, write))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = response.bytes().await.map_err(|e| {
        let message = format!("the answer was cut off: {e}");
        if write {
            ProviderError::Ambiguous(message)
        } else {
            ProviderError::Unavailable(message)
        }
    })?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Any HTTP answer from `url` within the target's timeout: the provider is reachable.
pub async fn probe(target: &Target, url: &str) -> Result<(), String> {
    let request = target
        .client()
        .head(url)
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    target
        .send(request, Repeat::Never)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

// ---- payment ----

/// How the payer pays: a QR code (WeChat Native, Alipay precreate), inside WeChat
/// (JSAPI / mini-program), a mobile browser (WeChat H5), or a web page (Alipay page
/// pay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Qr,
    Jsapi,
    H5,
    Page,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Qr => "qr",
            Channel::Jsapi => "jsapi",
            Channel::H5 => "h5",
            Channel::Page => "page",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PaymentOrder {
    pub out_trade_no: String,
    /// In fen.
    pub amount: i64,
    pub description: String,
    pub channel: Channel,
    /// JSAPI: the payer's openid.
    pub openid: Option<String>,
    /// H5: the payer's IP.
    pub client_ip: Option<String>,
    /// Page pay: where the payer returns.
    pub return_url: Option<String>,
}

/// The payer's next step, as the provider gave it.
#[derive(Debug, Clone)]
pub struct PaymentStarted {
    pub client_data: Value,
}

/// The provider's view of a payment.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentState {
    pub status: PaymentStatus,
    pub provider_trade_no: Option<String>,
    /// In fen, when paid.
    pub paid_amount: Option<i64>,
    pub raw: Value,
}

#[derive(Debug, Clone)]
pub struct RefundOrder {
    pub out_trade_no: String,
    pub out_refund_no: String,
    /// In fen.
    pub amount: i64,
    pub total: i64,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundState {
    pub status: RefundStatus,
    pub provider_refund_id: Option<String>,
    pub raw: Value,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Payment,
    Refund,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Payment => "payment",
            EventKind::Refund => "refund",
        }
    }
}

/// A verified notification.
#[derive(Debug, Clone)]
pub struct PaymentEvent {
    pub kind: EventKind,
    /// The provider's id of this event (transaction id, refund id, notify id).
    pub event_id: String,
    pub out_trade_no: String,
    pub state: PaymentState,
    pub out_refund_no: Option<String>,
    pub payload: Value,
}

/// What to answer a notification with, and what it carried.
pub struct CallbackVerdict {
    pub event: Result<PaymentEvent, String>,
    pub reply_status: u16,
    pub reply_content_type: &'static str,
    pub reply_body: String,
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn supports(&self, channel: Channel) -> bool;
    async fn create(&self, order: &PaymentOrder) -> Result<PaymentStarted, ProviderError>;
    /// None: the provider has no such order.
    async fn query(&self, out_trade_no: &str) -> Result<Option<PaymentState>, ProviderError>;
    async fn close(&self, out_trade_no: &str) -> Result<(), ProviderError>;
    async fn refund(&self, refund: &RefundOrder) -> Result<RefundState, ProviderError>;
    /// Verifies a notification (headers, raw body) at `now` and says how to answer.
    async fn callback(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> CallbackVerdict;
    async fn health(&self) -> Result<(), String>;
}

// ---- SMS ----

#[derive(Debug, Clone)]
pub struct SmsMessage {
    pub message_id: String,
    /// E.164, e.g. `+8613800000000`.
    pub phone: String,
    pub template: String,
    pub params: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmsAccepted {
    pub provider_message_id: String,
}

/// A sent message, as its provider finds it again.
#[derive(Debug, Clone)]
pub struct DeliveryQuery {
    /// E.164.
    pub phone: String,
    /// What `send` returned.
    pub provider_message_id: String,
    pub sent_at: chrono::DateTime<chrono::Utc>,
}

/// The provider's report of a message reaching the phone (or not).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReport {
    pub delivered: bool,
    /// The provider's status, code and time, as it wrote them.
    pub detail: String,
}

#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync {
    /// Whether this provider knows the logical template.
    fn has_template(&self, template: &str) -> bool;
    async fn send(&self, message: &SmsMessage) -> Result<SmsAccepted, ProviderError>;
    /// The delivery report of a sent message; None while the provider has none yet.
    async fn delivery(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Option<DeliveryReport>, ProviderError>;
    async fn health(&self) -> Result<(), String>;
}

// ---- storage ----

#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub content_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum PresignMethod {
    Get,
    Put,
}

impl PresignMethod {
    /// The HTTP verb a presigned URL is good for.
    pub fn as_str(self) -> &'static str {
        match self {
            PresignMethod::Get => "GET",
            PresignMethod::Put => "PUT",
        }
    }
}

#[async_trait::async_trait]
pub trait StorageProvider: Send + Sync {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), ProviderError>;
    /// None: no such object here.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ProviderError>;
    /// Whether the object is here, without reading it.
    async fn exists(&self, key: &str) -> Result<bool, ProviderError>;
    async fn delete(&self, key: &str) -> Result<(), ProviderError>;
    fn presign(
        &self,
        key: &str,
        method: PresignMethod,
        expires: std::time::Duration,
    ) -> Result<String, ProviderError>;
    async fn health(&self) -> Result<(), String>;
}

// ---- captcha ----

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaptchaAnswer {
    /// The text of a text captcha.
    pub answer: Option<String>,
    /// The points of a click captcha (`[x, y]` in image pixels).
    pub points: Option<Vec<[i64; 2]>>,
    /// Keep it to report a wrong answer.
    pub pic_id: Option<String>,
}

#[async_trait::async_trait]
pub trait CaptchaProvider: Send + Sync {
    async fn recognize(&self, image: &[u8], codetype: &str)
        -> Result<CaptchaAnswer, ProviderError>;
    async fn report_error(&self, pic_id: &str) -> Result<(), ProviderError>;
    /// The account's remaining points.
    async fn balance(&self) -> Result<i64, ProviderError>;
    async fn health(&self) -> Result<(), String>;
}

/// One built adapter.
#[derive(Clone)]
pub enum Adapter {
    Payment(Arc<dyn PaymentProvider>),
    Sms(Arc<dyn SmsProvider>),
    Storage(Arc<dyn StorageProvider>),
    Captcha(Arc<dyn CaptchaProvider>),
}

/// What adapters are built with.
pub struct BuildContext<'a> {
    pub outside: &'a shopops_kernel::outside::OutsideCalls,
    /// Signs local-store URLs.
    pub url_key: &'a [u8],
    /// This server's public base URL (local-store presigned URLs point here).
    pub public_base_url: &'a str,
}

/// Builds the adapter a provider's configuration describes; errors name the key.
pub fn build(
    config: &crate::config::ProviderConfig,
    ctx: &BuildContext<'_>,
) -> Result<Adapter, String> {
    let target = |name: &str| {
        let mut t = ctx.outside.defaults().clone();
        t.timeout = config.timeout;
        // The provider alerts (`alerts.rs`) watch these calls, business failures included.
        t.kernel_alerts = false;
        ctx.outside
            .target_with(&format!("integrations:{name}"), &t)
            .map_err(|e| e.to_string())
    };
    let path = config.path();
    Ok(match config.kind.as_str() {
        "wechatpay" => Adapter::Payment(Arc::new(
            wechatpay::WechatPay::new(config.settings()?, target(&path)?)
                .map_err(|e| format!("{path}: {e}"))?,
        )),
        "alipay" => Adapter::Payment(Arc::new(
            alipay::Alipay::new(config.settings()?, target(&path)?)
                .map_err(|e| format!("{path}: {e}"))?,
        )),
        "tencent" => Adapter::Sms(Arc::new(tencent_sms::TencentSms::new(
            config.settings()?,
            target(&path)?,
        ))),
        "aliyun" => Adapter::Sms(Arc::new(aliyun_sms::AliyunSms::new(
            config.settings()?,
            target(&path)?,
        ))),
        "cos" => Adapter::Storage(Arc::new(cos::Cos::new(config.settings()?, target(&path)?))),
        "s3" => Adapter::Storage(Arc::new(s3::S3::new(config.settings()?, target(&path)?))),
        "local" => Adapter::Storage(Arc::new(
            local::Local::new(config.settings()?, ctx.url_key, ctx.public_base_url)
                .map_err(|e| format!("{path}: {e}"))?,
        )),
        "chaojiying" => Adapter::Captcha(Arc::new(chaojiying::Chaojiying::new(
            config.settings()?,
            target(&path)?,
        ))),
        other => return Err(format!("{path}.kind: unknown provider `{other}`")),
    })
}
