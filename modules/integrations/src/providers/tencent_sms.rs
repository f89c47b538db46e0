//! Tencent Cloud SMS (API 2021-01-11, TC3-HMAC-SHA256): `SendSms`, and delivery
//! receipts by `PullSmsSendStatusByPhoneNumber`. Errors arrive with HTTP 200
//! (`Response.Error`), and a number's own failure in `SendStatusSet[].Code`.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use shopops_kernel::outside::{Repeat, Target};

use super::{
    send, DeliveryQuery, DeliveryReport, ProviderError, SmsAccepted, SmsMessage, SmsProvider,
};
use crate::client::tc3;

fn default_region() -> String {
    "ap-guangzhou".into()
}

fn default_endpoint() -> String {
    "https://sms.tencentcloudapi.com".into()
}

/// A logical template at Tencent: its id and the order of its parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    #[serde(default)]
    pub params: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub secret_id: SecretString,
    pub secret_key: SecretString,
    pub sdk_app_id: String,
    pub sign_name: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    #[serde(default)]
    pub templates: BTreeMap<String, Template>,
}

pub struct TencentSms {
    settings: Settings,
    target: Arc<Target>,
}

/// Error codes that say the service (or our account at it) failed, not the message.
fn is_service_fault(code: &str) -> bool {
    code.starts_with("AuthFailure")
        || code.starts_with("InternalError")
        || code.starts_with("RequestLimitExceeded")
        || code == "LimitExceeded.AppGlobalDayLimit"
        || code.starts_with("ResourceUnavailable")
        || code == "UnauthorizedOperation"
}

/// The API error of an answer (HTTP 200 carries them too).
fn api_error(response: &Value) -> Option<ProviderError> {
    let error = response.get("Error")?;
    let code = error["Code"].as_str().unwrap_or("Error").to_string();
    let message = error["Message"].as_str().unwrap_or_default().to_string();
    Some(if is_service_fault(&code) {
        ProviderError::Unavailable(format!("{code}: {message}"))
    } else {
        ProviderError::rejected(code, message)
    })
}

/// Reads a `SendSms` answer.
pub fn read_send(body: &Value) -> Result<SmsAccepted, ProviderError> {
    let response = &body["Response"];
    if let Some(error) = api_error(response) {
        return Err(error);
    }
    let status = &response["SendStatusSet"][0];
    match status["Code"].as_str() {
        Some("Ok") => Ok(SmsAccepted {
            provider_message_id: status["SerialNo"].as_str().unwrap_or_default().to_string(),
        }),
        Some(code) => Err(ProviderError::rejected(
            code,
            status["Message"].as_str().unwrap_or_default(),
        )),
        None => Err(ProviderError::Unavailable(
            "the answer has no SendStatusSet".into(),
        )),
    }
}

/// Reads a `PullSmsSendStatus…` answer: the receipt of the message with this serial
/// number, if there is one yet.
pub fn read_delivery(
    body: &Value,
    serial_no: &str,
) -> Result<Option<DeliveryReport>, ProviderError> {
    let response = &body["Response"];
    if let Some(error) = api_error(response) {
        return Err(error);
    }
    let receipts = response["PullSmsSendStatusSet"].as_array().ok_or_else(|| {
        ProviderError::Unavailable("the answer has no PullSmsSendStatusSet".into())
    })?;
    receipts
        .iter()
        .find(|r| r["SerialNo"].as_str() == Some(serial_no))
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default();
            let delivered = match field("ReportStatus") {
                "SUCCESS" => true,
                "FAIL" => false,
                other => {
                    return Err(ProviderError::Unavailable(format!(
                        "unknown ReportStatus `{other}`"
                    )))
                }
            };
            Ok(DeliveryReport {
                delivered,
                detail: format!(
                    "{} {} at {}",
                    field("ReportStatus"),
                    field("Description"),
                    field("UserReceiveTime")
                ),
            })
        })
        .transpose()
}

impl TencentSms {
    pub fn new(settings: Settings, target: Arc<Target>) -> Self {
        Self { settings, target }
    }

    /// A TC3-signed POST of `action` with this JSON payload.
    fn request(&self, action: &str, payload: String) -> Result<reqwest::Request, ProviderError> {
        let s = &self.settings;
        let host = s
            .endpoint
            .split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(&s.endpoint)
            .trim_end_matches('/')
            .to_string();
        let names = ["content-type".to_string(), "host".to_string()];
        let signed = tc3::Request {
            secret_id: s.secret_id.expose_secret(),
            secret_key: s.secret_key.expose_secret(),
            service: "sms",
            host: &host,
            action,
            version: "2021-01-11",
            region: Some(&s.region),
            language: None,
            token: None,
            timestamp: chrono::Utc::now().timestamp(),
            http_method: "POST",
            canonical_uri: "/",
            canonical_query_string: "",
            content_type: "application/json",
            signed_header_names: &names,
            payload: &payload,
        }
        .sign();
        let mut request = self
            .target
            .client()
            .post(format!("{}/", s.endpoint.trim_end_matches('/')));
        for (name, value) in &signed.required_headers {
            if name != "host" {
                request = request.header(name.as_str(), value.as_str().unwrap_or_default());
            }
        }
        request
            .body(payload)
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))
    }

    /// The answer as JSON (a fault of the service is unavailable).
    async fn read(
        &self,
        request: reqwest::Request,
        repeat: Repeat,
        write: bool,
    ) -> Result<Value, ProviderError> {
        let answer = send(&self.target, request, repeat, write).await?;
        if answer.status >= 500 || answer.status == 429 {
            return Err(ProviderError::Unavailable(format!(
                "HTTP {}",
                answer.status
            )));
        }
        serde_json::from_slice(&answer.body).map_err(|_| {
            let message = format!("unreadable answer (HTTP {})", answer.status);
            if write {
                ProviderError::Ambiguous(message)
            } else {
                ProviderError::Unavailable(message)
            }
        })
    }
}

#[async_trait::async_trait]
impl SmsProvider for TencentSms {
    fn has_template(&self, template: &str) -> bool {
        self.settings.templates.contains_key(template)
    }

    async fn send(&self, m: &SmsMessage) -> Result<SmsAccepted, ProviderError> {
        let s = &self.settings;
        let template = s
            .templates
            .get(&m.template)
            .ok_or_else(|| ProviderError::rejected("UNKNOWN_TEMPLATE", &m.template))?;
        let params: Vec<String> = template
            .params
            .iter()
            .map(|p| match m.params.get(p) {
                Some(Value::String(v)) => v.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            })
            .collect();
        let payload = json!({
            "PhoneNumberSet": [m.phone], "SmsSdkAppId": s.sdk_app_id, "SignName": s.sign_name,
            "TemplateId": template.id, "TemplateParamSet": params, "SessionContext": m.message_id,
        })
        .to_string();
        let request = self.request("SendSms", payload)?;
        // SendSms is not idempotent: never resent on the transport's own.
        let body = self.read(request, Repeat::Never, true).await?;
        read_send(&body)
    }

    /// `PullSmsSendStatusByPhoneNumber` from a minute before the send until now.
    async fn delivery(&self, q: &DeliveryQuery) -> Result<Option<DeliveryReport>, ProviderError> {
        let payload = json!({
            "PhoneNumber": q.phone, "SmsSdkAppId": self.settings.sdk_app_id,
            "BeginTime": q.sent_at.timestamp() - 60, "EndTime": chrono::Utc::now().timestamp(),
            "Offset": 0, "Limit": 100,
        })
        .to_string();
        let request = self.request("PullSmsSendStatusByPhoneNumber", payload)?;
        // A read, signed without a nonce: safe to repeat.
        let body = self.read(request, Repeat::Always, false).await?;
        read_delivery(&body, &q.provider_message_id)
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.endpoint).await
    }
}
