//! Where alerts go: e-mail over SMTP (lettre), the WeCom, DingTalk and Feishu group
//! robots (with their signatures), and a generic JSON webhook. Robot calls go through
//! the outside-call toolkit (breaker, metrics); a failed delivery is reported, never
//! retried forever.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Notice, Severity};
use crate::config::Config;
use crate::outside::{OutsideCalls, Repeat};

pub const CHANNELS: &[&str] = &["email", "wecom", "dingtalk", "feishu", "webhook"];
const CHAT: &[&str] = &["wecom", "dingtalk", "feishu"];

/// Severity routing (docs/configuration.md, "Alerting"): critical → every channel; warning → e-mail and chat robots;
/// info → chat robots. The generic webhook (an on-call pager, say) gets critical only.
pub fn route(severity: Severity) -> Vec<&'static str> {
    match severity {
        Severity::Critical => CHANNELS.to_vec(),
        Severity::Warning => [&["email"][..], CHAT].concat(),
        Severity::Info => CHAT.to_vec(),
    }
}

struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    to: Vec<lettre::message::Mailbox>,
}

struct Robot {
    url: SecretString,
    secret: Option<SecretString>,
}

pub struct Channels {
    email: Option<Email>,
    robots: BTreeMap<&'static str, Robot>,
    outside: Arc<OutsideCalls>,
}

fn non_empty(s: &Option<SecretString>) -> Option<SecretString> {
    s.as_ref()
        .filter(|v| !v.expose_secret().trim().is_empty())
        .cloned()
}

impl Channels {
    pub fn from_config(config: &Config, outside: Arc<OutsideCalls>) -> Result<Self, String> {
        let mut robots = BTreeMap::new();
        let mut robot =
            |name: &'static str, url: Option<SecretString>, secret: Option<SecretString>| {
                if let Some(url) = url {
                    robots.insert(name, Robot { url, secret });
                }
            };
        robot("wecom", non_empty(&config.alert_wecom_url), None);
        robot(
            "dingtalk",
            non_empty(&config.alert_dingtalk_url),
            non_empty(&config.alert_dingtalk_secret),
        );
        robot(
            "feishu",
            non_empty(&config.alert_feishu_url),
            non_empty(&config.alert_feishu_secret),
        );
        // The single ALERT_WEBHOOK_URL, typed by ALERT_WEBHOOK_TYPE.
        if let Some(url) = non_empty(&config.alert_webhook_url) {
            let (name, secret) = match config.alert_webhook_type.as_str() {
                "wechat" | "wecom" => ("wecom", None),
                "dingtalk" => ("dingtalk", non_empty(&config.alert_dingtalk_secret)),
                "feishu" => ("feishu", non_empty(&config.alert_feishu_secret)),
                _ => ("webhook", None),
            };
            robots.entry(name).or_insert(Robot { url, secret });
        }
        Ok(Self {
            email: email(config)?,
            robots,
            outside,
        })
    }

    pub fn configured(&self) -> Vec<&'static str> {
        CHANNELS
            .iter()
            .copied()
            .filter(|c| self.is_configured(c))
            .collect()
    }

    pub fn is_configured(&self, channel: &str) -> bool {
        match channel {
            "email" => self.email.is_some(),
            other => self.robots.contains_key(other),
        }
    }

    /// Delivers one notice on one channel.
    pub async fn send(&self, channel: &str, notice: &Notice) -> Result<(), String> {
        if channel == "email" {
            let email = self.email.as_ref().ok_or("email is not configured")?;
            return send_email(email, notice).await;
        }
        let robot = self
            .robots
            .get(channel)
            .ok_or_else(|| format!("{channel} is not configured"))?;
        let (url, body) = match channel {
            "wecom" => (robot.url.expose_secret().to_string(), wecom_body(notice)),
            "dingtalk" => (dingtalk_url(robot)?, dingtalk_body(notice)),
            "feishu" => (
                robot.url.expose_secret().to_string(),
                feishu_body(notice, robot.secret.as_ref())?,
            ),
            _ => (
                robot.url.expose_secret().to_string(),
                json!({ "alert": notice }),
            ),
        };
        let target = self
            .outside
            .target(&format!("alert-{channel}"))
            .map_err(|e| e.to_string())?;
        let request = target
            .client()
            .post(&url)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .build()
            .map_err(|_| format!("{channel}: invalid webhook URL"))?;
        // A duplicate alert beats a lost one: robot posts may be repeated.
        let response = target
            .send(request, Repeat::Always)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{channel}: HTTP {status}"));
        }
        if channel == "webhook" {
            return Ok(());
        }
        // The robots answer 200 with their own error code.
        let reply: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = reply
            .get("errcode")
            .or_else(|| reply.get("code"))
            .or_else(|| reply.get("StatusCode"));
        match code.and_then(Value::as_i64) {
            Some(0) => Ok(()),
            _ => Err(format!(
                "{channel}: refused: {}",
                text.chars().take(200).collect::<String>()
            )),
        }
    }
}

fn email(config: &Config) -> Result<Option<Email>, String> {
    let Some(host) = config
        .alert_smtp_server
        .as_deref()
        .filter(|h| !h.trim().is_empty())
    else {
        return Ok(None);
    };
    let tls = || -> Result<TlsParameters, String> {
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(path) = &config.alert_smtp_ca_file {
            let bad =
                |e: &dyn std::fmt::Display| format!("alert_smtp_ca_file {}: {e}", path.display());
            let pem = std::fs::read(path).map_err(|e| bad(&e))?;
            params = params.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad(&e))?);
        }
        params.build_rustls().map_err(|e| format!("SMTP TLS: {e}"))
    };
    // `builder_dangerous` only means "no TLS preset": TLS is set right below.
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
    let builder = match config.alert_smtp_tls.as_str() {
        "implicit" => builder.tls(Tls::Wrapper(tls()?)),
        "starttls" => builder.tls(Tls::Required(tls()?)),
        _ => builder,
    };
    let mut builder = builder
        .port(config.alert_smtp_port)
        .timeout(Some(Duration::from_secs(15)));
    if let (Some(user), Some(pass)) = (&config.alert_email_username, &config.alert_email_password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            pass.expose_secret().to_string(),
        ));
    }
    let from = config
        .alert_email_from
        .clone()
        .or_else(|| {
            config
                .alert_email_username
                .clone()
                .filter(|u| u.contains('@'))
        })
        .unwrap_or_else(|| "shopops-alerts@localhost".into());
    let parse = |a: &str| {
        a.parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("alert e-mail address `{a}`: {e}"))
    };
    Ok(Some(Email {
        transport: builder.build(),
        from: parse(&from)?,
        to: config
            .alert_email_recipients()
            .iter()
            .map(|a| parse(a))
            .collect::<Result<_, _>>()?,
    }))
}

async fn send_email(email: &Email, notice: &Notice) -> Result<(), String> {
    let mut message = Message::builder()
        .from(email.from.clone())
        .subject(notice.title());
    for to in &email.to {
        message = message.to(to.clone());
    }
    let message = message
        .header(ContentType::TEXT_PLAIN)
        .body(notice.text())
        .map_err(|e| e.to_string())?;
    email
        .transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("email: {e}"))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// DingTalk signs `"{timestamp_ms}\n{secret}"` with HMAC-SHA256 keyed by the secret and
/// expects `timestamp` and the base64 `sign` as query parameters.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    B64.encode(hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    ))
}

/// Feishu keys HMAC-SHA256 with `"{timestamp_s}\n{secret}"` over an empty message.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    B64.encode(hmac_sha256(
        format!("{timestamp_s}\n{secret}").as_bytes(),
        b"",
    ))
}

fn dingtalk_url(robot: &Robot) -> Result<String, String> {
    let mut url = reqwest::Url::parse(robot.url.expose_secret())
        .map_err(|_| "dingtalk: invalid webhook URL".to_string())?;
    if let Some(secret) = &robot.secret {
        let ts = chrono::Utc::now().timestamp_millis();
        url.query_pairs_mut()
            .append_pair("timestamp", &ts.to_string())
            .append_pair("sign", &dingtalk_sign(secret.expose_secret(), ts));
    }
    Ok(url.to_string())
}

fn wecom_body(notice: &Notice) -> Value {
    json!({ "msgtype": "markdown", "markdown": { "content": notice.markdown() } })
}

fn dingtalk_body(notice: &Notice) -> Value {
    json!({ "msgtype": "markdown", "markdown": { "title": notice.title(), "text": notice.markdown() } })
}

fn feishu_body(notice: &Notice, secret: Option<&SecretString>) -> Result<Value, String> {
    let mut body = json!({ "msg_type": "text", "content": { "text": notice.text() } });
    if let Some(secret) = secret {
        let ts = chrono::Utc::now().timestamp();
        body["timestamp"] = json!(ts.to_string());
        body["sign"] = json!(feishu_sign(secret.expose_secret(), ts));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_follows_severity() {
        assert_eq!(route(Severity::Critical), CHANNELS.to_vec());
        assert_eq!(
            route(Severity::Warning),
            vec!["email", "wecom", "dingtalk", "feishu"]
        );
        assert_eq!(route(Severity::Info), vec!["wecom", "dingtalk", "feishu"]);
    }

    #[test]
    fn robot_signatures_match_the_platforms_documented_scheme() {
        // Expected values computed with Python's hmac module, following each
        // platform's published signing recipe.
        assert_eq!(
            dingtalk_sign("SECxyz", 1_700_000_000_000),
            "0PUR1j8g85Xg3vlFV/UrEcxXfF5HpCAGzcjrNfyJoyg="
        );
        assert_eq!(
            feishu_sign("abc", 1_700_000_000),
            "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4="
        );
    }
}
