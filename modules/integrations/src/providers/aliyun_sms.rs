//! Aliyun SMS (dysmsapi 2017-05-25): `SendSms` and `QuerySendDetails` (delivery
//! reports), signed with ACS3-HMAC-SHA256 (or the RPC scheme). Business errors arrive with HTTP 200 and `Code` ≠ `OK`; gateway errors
//! (signature, key, throttling) with 4xx/5xx.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use shopops_kernel::encoding::rfc3986_query;
use shopops_kernel::outside::{Repeat, Target};

use super::{
    send, DeliveryQuery, DeliveryReport, ProviderError, SmsAccepted, SmsMessage, SmsProvider,
};
use crate::client::{aliyun, digest};

fn default_endpoint() -> String {
    "https://dysmsapi.aliyuncs.com".into()
}

fn default_signature() -> String {
    "acs3".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// `SMS_…`.
    pub code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub access_key_id: SecretString,
    pub access_key_secret: SecretString,
    pub sign_name: String,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// `acs3` (V3, the default) or `rpc` (HMAC-SHA1).
    #[serde(default = "default_signature")]
    pub signature: String,
    #[serde(default)]
    pub templates: BTreeMap<String, Template>,
}

pub struct AliyunSms {
    settings: Settings,
    target: Arc<Target>,
}

/// Gateway error codes that are our account's or the service's, not the message's.
fn is_service_fault(code: &str) -> bool {
    code.starts_with("SignatureDoesNotMatch")
        || code.starts_with("InvalidAccessKeyId")
        || code.starts_with("Throttling")
        || code.starts_with("ServiceUnavailable")
        || code.starts_with("InternalError")
        || code == "isv.ACCOUNT_ABNORMAL"
        || code == "isv.OUT_OF_SERVICE"
        || code == "isv.AMOUNT_NOT_ENOUGH"
}

/// Reads a `SendSms` answer (any HTTP status).
pub fn read_send(status: u16, body: &Value) -> Result<SmsAccepted, ProviderError> {
    let code = body["Code"].as_str().unwrap_or_default();
    let message = body["Message"].as_str().unwrap_or_default();
    if status == 200 && code == "OK" {
        return Ok(SmsAccepted {
            provider_message_id: body["BizId"].as_str().unwrap_or_default().to_string(),
        });
    }
    if status >= 500 || is_service_fault(code) || code.is_empty() {
        return Err(ProviderError::Unavailable(format!(
            "HTTP {status} {code}: {message}"
        )));
    }
    Err(ProviderError::rejected(code, message))
}

/// Reads a `QuerySendDetails` answer: the report of the message with this `BizId`
/// (`SendStatus` 3 delivered, 2 failed, 1 still waiting for the phone).
pub fn read_delivery(status: u16, body: &Value) -> Result<Option<DeliveryReport>, ProviderError> {
    let code = body["Code"].as_str().unwrap_or_default();
    if status != 200 || code != "OK" {
        let message = body["Message"].as_str().unwrap_or_default();
        return Err(
            if status >= 500 || is_service_fault(code) || code.is_empty() {
                ProviderError::Unavailable(format!("HTTP {status} {code}: {message}"))
            } else {
                ProviderError::rejected(code, message)
            },
        );
    }
    let detail = &body["SmsSendDetailDTOs"]["SmsSendDetailDTO"][0];
    let field = |k: &str| detail[k].as_str().unwrap_or_default();
    Ok(match detail["SendStatus"].as_i64() {
        // No record of it yet, or waiting for the carrier's receipt.
        None | Some(1) => None,
        Some(state @ (2 | 3)) => Some(DeliveryReport {
            delivered: state == 3,
            detail: format!("{} at {}", field("ErrCode"), field("ReceiveDate")),
        }),
        Some(other) => {
            return Err(ProviderError::Unavailable(format!(
                "unknown SendStatus {other}"
            )))
        }
    })
}

impl AliyunSms {
    pub fn new(settings: Settings, target: Arc<Target>) -> Self {
        Self { settings, target }
    }

    /// A signed POST of `action` with these API parameters (ACS3 or RPC signature), a
    /// fresh nonce each time as the gateway requires.
    fn request(
        &self,
        action: &str,
        api: &[(String, String)],
    ) -> Result<reqwest::Request, ProviderError> {
        let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let s = &self.settings;
        let base = s.endpoint.trim_end_matches('/');
        if s.signature == "rpc" {
            let mut params = api.to_vec();
            for (k, v) in [
                ("AccessKeyId", s.access_key_id.expose_secret()),
                ("Action", action),
                ("Format", "JSON"),
                ("RegionId", "cn-hangzhou"),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureNonce", nonce.as_str()),
                ("SignatureVersion", "1.0"),
                ("Timestamp", date.as_str()),
                ("Version", "2017-05-25"),
            ] {
                params.push((k.into(), v.into()));
            }
            let signed = aliyun::rpc_sign("POST", s.access_key_secret.expose_secret(), &params);
            self.target
                .client()
                .post(format!("{base}/?{}", signed.query_with_signature))
                .header("x-acs-action", action)
                .header("x-acs-version", "2017-05-25")
        } else {
            let hashed = digest::sha256_hex(b"");
            let headers: Vec<(String, String)> = vec![
                ("host".into(), self.host()),
                ("x-acs-action".into(), action.into()),
                ("x-acs-version".into(), "2017-05-25".into()),
                ("x-acs-date".into(), date.clone()),
                ("x-acs-signature-nonce".into(), nonce.clone()),
                ("x-acs-content-sha256".into(), hashed),
            ];
            let signed = aliyun::acs3_sign(
                "POST",
                "/",
                api,
                &headers,
                b"",
                s.access_key_id.expose_secret(),
                s.access_key_secret.expose_secret(),
            );
            let query = rfc3986_query(api);
            let mut r = self.target.client().post(format!("{base}/?{query}"));
            for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
                r = r.header(k.as_str(), v.as_str());
            }
            r.header("Authorization", signed.authorization)
        }
        .build()
        .map_err(|e| ProviderError::Unavailable(e.to_string()))
    }

    fn host(&self) -> String {
        let e = &self.settings.endpoint;
        e.split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(e)
            .trim_end_matches('/')
            .to_string()
    }
}

#[async_trait::async_trait]
impl SmsProvider for AliyunSms {
    fn has_template(&self, template: &str) -> bool {
        self.settings.templates.contains_key(template)
    }

    async fn send(&self, m: &SmsMessage) -> Result<SmsAccepted, ProviderError> {
        let s = &self.settings;
        let template = s
            .templates
            .get(&m.template)
            .ok_or_else(|| ProviderError::rejected("UNKNOWN_TEMPLATE", &m.template))?;
        // Mainland numbers go without the country code.
        let phone = m.phone.strip_prefix("+86").unwrap_or(&m.phone).to_string();
        let api: Vec<(String, String)> = vec![
            ("PhoneNumbers".into(), phone),
            ("SignName".into(), s.sign_name.clone()),
            ("TemplateCode".into(), template.code.clone()),
            (
                "TemplateParam".into(),
                Value::Object(m.params.clone()).to_string(),
            ),
            ("OutId".into(), m.message_id.clone()),
        ];
        let request = self.request("SendSms", &api)?;
        let answer = send(&self.target, request, Repeat::Never, true).await?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if body.is_null() && answer.status == 200 {
            return Err(ProviderError::Ambiguous("unreadable answer".into()));
        }
        read_send(answer.status, &body)
    }

    async fn delivery(&self, q: &DeliveryQuery) -> Result<Option<DeliveryReport>, ProviderError> {
        // The day of the send, in Beijing time, as the API files messages.
        let api: Vec<(String, String)> = vec![
            (
                "PhoneNumber".into(),
                q.phone.strip_prefix("+86").unwrap_or(&q.phone).to_string(),
            ),
            (
                "SendDate".into(),
                q.sent_at
                    .with_timezone(&super::beijing())
                    .format("%Y%m%d")
                    .to_string(),
            ),
            ("PageSize".into(), "10".into()),
            ("CurrentPage".into(), "1".into()),
            ("BizId".into(), q.provider_message_id.clone()),
        ];
        let request = self.request("QuerySendDetails", &api)?;
        // The gateway refuses a repeated nonce, so the transport must not resend it.
        let answer = send(&self.target, request, Repeat::Never, false).await?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        read_delivery(answer.status, &body)
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.endpoint).await
    }
}
