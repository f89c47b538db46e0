//! Tencent Cloud SMS (API 2021-01-11, TC3-HMAC-SHA256): `SendSms`. Errors arrive with
//! HTTP 200 (`Response.Error`), and a number's own failure in `SendStatusSet[].Code`.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use shopops_kernel::outside::{Repeat, Target};

use super::{send, ProviderError, SmsAccepted, SmsMessage, SmsProvider};
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

/// Reads a `SendSms` answer.
pub fn read_send(body: &Value) -> Result<SmsAccepted, ProviderError> {
    let response = &body["Response"];
    if let Some(error) = response.get("Error") {
        let code = error["Code"].as_str().unwrap_or("Error").to_string();
        let message = error["Message"].as_str().unwrap_or_default().to_string();
        return Err(if is_service_fault(&code) {
            ProviderError::Unavailable(format!("{code}: {message}"))
        } else {
            ProviderError::rejected(code, message)
        });
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

impl TencentSms {
    pub fn new(settings: Settings, target: Arc<Target>) -> Self {
        Self { settings, target }
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
            action: "SendSms",
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
        let request = request
            .body(payload)
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        // SendSms is not idempotent: never resent on the transport's own.
        let answer = send(&self.target, request, Repeat::Never, true).await?;
        if answer.status >= 500 || answer.status == 429 {
            return Err(ProviderError::Unavailable(format!(
                "HTTP {}",
                answer.status
            )));
        }
        let body: Value = serde_json::from_slice(&answer.body).map_err(|_| {
            ProviderError::Ambiguous(format!("unreadable answer (HTTP {})", answer.status))
        })?;
        read_send(&body)
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.endpoint).await
    }
}
