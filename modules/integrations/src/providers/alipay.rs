//! Alipay (OpenAPI 2.0 gateway, RSA2): precreate (QR), page pay (a redirect URL and an
//! auto-submitting form, no call), query, close, refund, and async notifications.
//! Every answer is verified over its raw `…_response` text before it is believed.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use shopops_kernel::outside::{Repeat, Target};

use super::{
    send, CallbackVerdict, Channel, EventKind, PaymentEvent, PaymentOrder, PaymentProvider,
    PaymentStarted, PaymentState, ProviderError, RefundOrder, RefundState,
};
use crate::client::alipay::{self as ali, Call};
use crate::client::rsa::{RsaSigner, RsaVerifier};
use crate::service::states::{PaymentStatus, RefundStatus};

fn default_gateway() -> String {
    "https://openapi.alipay.com/gateway.do".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub app_id: String,
    /// PEM (PKCS#1 or PKCS#8).
    pub app_private_key: SecretString,
    /// PEM, or the bare Base64 the Alipay console shows.
    pub alipay_public_key: String,
    /// Our callback: `https://<host>/api/v1/integrations/callbacks/alipay`.
    pub notify_url: String,
    pub return_url: Option<String>,
    #[serde(default = "default_gateway")]
    pub gateway: String,
}

pub struct Alipay {
    settings: Settings,
    signer: RsaSigner,
    verifier: RsaVerifier,
    target: Arc<Target>,
}

/// Fen as Alipay's yuan string: 8888 → `88.88`.
pub fn yuan(fen: i64) -> String {
    format!(
        "{}{}.{:02}",
        if fen < 0 { "-" } else { "" },
        fen.abs() / 100,
        fen.abs() % 100
    )
}

/// Alipay's yuan string as fen, exactly (no floats): `88.8` → 8880.
pub fn fen(yuan: &str) -> Option<i64> {
    let (whole, frac) = yuan.trim().split_once('.').unwrap_or((yuan.trim(), ""));
    if frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    Some(whole * 100 + frac)
}

/// Alipay's time: `yyyy-MM-dd HH:mm:ss` in Beijing time.
fn beijing_now() -> String {
    chrono::Utc::now()
        .with_timezone(&super::beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

impl Alipay {
    pub fn new(settings: Settings, target: Arc<Target>) -> Result<Self, String> {
        let signer = RsaSigner::from_pem(settings.app_private_key.expose_secret())
            .map_err(|e| format!("app_private_key: {e}"))?;
        let verifier = RsaVerifier::from_pem_or_base64(&settings.alipay_public_key)
            .map_err(|e| format!("alipay_public_key: {e}"))?;
        Ok(Self {
            settings,
            signer,
            verifier,
            target,
        })
    }

    fn call_for<'a>(
        &'a self,
        method: &'a str,
        biz: &'a str,
        timestamp: &'a str,
        notify: bool,
    ) -> Call<'a> {
        Call {
            gateway: &self.settings.gateway,
            app_id: &self.settings.app_id,
            method,
            charset: "utf-8",
            format: "json",
            sign_type: "RSA2",
            version: "1.0",
            timestamp,
            notify_url: notify.then_some(self.settings.notify_url.as_str()),
            return_url: None,
            app_auth_token: None,
            biz_content: biz,
        }
    }

    /// One gateway call; the `…_response` object when its code is 10000.
    async fn execute(&self, method: &str, biz: Value, write: bool) -> Result<Value, ProviderError> {
        let biz = biz.to_string();
        let timestamp = beijing_now();
        let signed = self
            .call_for(method, &biz, &timestamp, write)
            .sign(&self.signer);
        let request = self
            .target
            .client()
            .post(&signed.post_url)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(signed.post_body)
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let repeat = if write { Repeat::Never } else { Repeat::Always };
        let answer = send(&self.target, request, repeat, write).await?;
        let doubtful = |m: String| {
            if write {
                ProviderError::Ambiguous(m)
            } else {
                ProviderError::Unavailable(m)
            }
        };
        if answer.status != 200 {
            return Err(doubtful(format!("HTTP {}", answer.status)));
        }
        let verified = ali::verify_response(&self.verifier, method, &answer.text())
            .ok_or_else(|| doubtful("the answer has no response object".into()))?;
        if !verified.signature_valid {
            return Err(doubtful("the answer's signature does not hold".into()));
        }
        let r = verified.parsed;
        match r["code"].as_str().unwrap_or_default() {
            "10000" => Ok(r),
            "20000" => Err(ProviderError::Unavailable(format!(
                "20000 {}",
                r["sub_msg"].as_str().unwrap_or("service unavailable")
            ))),
            code => {
                let sub = r["sub_code"].as_str().unwrap_or(code).to_string();
                let message = r["sub_msg"]
                    .as_str()
                    .or(r["msg"].as_str())
                    .unwrap_or_default()
                    .to_string();
                // Our own keys or permissions at this provider: not the request's fault.
                if sub == "isv.invalid-signature" || code == "40006" {
                    Err(ProviderError::Unavailable(format!("{sub}: {message}")))
                } else {
                    Err(ProviderError::rejected(sub, message))
                }
            }
        }
    }

    /// A trade as Alipay describes it; a `trade_status` it does not document makes the
    /// answer unreadable.
    fn state_of(r: &Value) -> Result<PaymentState, String> {
        let status = match r["trade_status"].as_str().unwrap_or_default() {
            "TRADE_SUCCESS" | "TRADE_FINISHED" => PaymentStatus::Paid,
            "TRADE_CLOSED" => PaymentStatus::Closed,
            "WAIT_BUYER_PAY" => PaymentStatus::Pending,
            other => return Err(format!("unknown trade_status `{other}`")),
        };
        Ok(PaymentState {
            status,
            provider_trade_no: r["trade_no"].as_str().map(str::to_string),
            paid_amount: (status == PaymentStatus::Paid)
                .then(|| r["total_amount"].as_str().and_then(fen))
                .flatten(),
            raw: r.clone(),
        })
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Alipay {
    fn supports(&self, channel: Channel) -> bool {
        matches!(channel, Channel::Qr | Channel::Page)
    }

    async fn create(&self, order: &PaymentOrder) -> Result<PaymentStarted, ProviderError> {
        let amount = yuan(order.amount);
        match order.channel {
            Channel::Qr => {
                let r = self
                    .execute(
                        "alipay.trade.precreate",
                        json!({ "out_trade_no": order.out_trade_no, "total_amount": amount, "subject": order.description }),
                        true,
                    )
                    .await?;
                Ok(PaymentStarted {
                    client_data: json!({ "qr_code": r["qr_code"] }),
                })
            }
            Channel::Page => {
                // Page pay is not a call: the payer's browser carries the signed request.
                let biz = json!({ "out_trade_no": order.out_trade_no, "total_amount": amount, "subject": order.description, "product_code": "FAST_INSTANT_TRADE_PAY" }).to_string();
                let timestamp = beijing_now();
                let mut call = self.call_for("alipay.trade.page.pay", &biz, &timestamp, true);
                let return_url = order
                    .return_url
                    .clone()
                    .or_else(|| self.settings.return_url.clone());
                call.return_url = return_url.as_deref();
                let signed = call.sign(&self.signer);
                Ok(PaymentStarted {
                    client_data: json!({ "url": signed.page_url, "form": { "action": signed.post_url, "fields": signed.body_params } }),
                })
            }
            other => Err(ProviderError::rejected(
                "UNSUPPORTED_CHANNEL",
                format!("Alipay has no {} channel", other.as_str()),
            )),
        }
    }

    async fn query(&self, out_trade_no: &str) -> Result<Option<PaymentState>, ProviderError> {
        match self
            .execute(
                "alipay.trade.query",
                json!({ "out_trade_no": out_trade_no }),
                false,
            )
            .await
        {
            Ok(r) => Self::state_of(&r)
                .map(Some)
                .map_err(ProviderError::Unavailable),
            Err(ProviderError::Rejected { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn close(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        match self
            .execute(
                "alipay.trade.close",
                json!({ "out_trade_no": out_trade_no }),
                true,
            )
            .await
        {
            // A precreated order nobody scanned does not exist at Alipay yet: it is closed
            // as far as anyone can pay it.
            Ok(_) => Ok(()),
            Err(ProviderError::Rejected { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn refund(&self, r: &RefundOrder) -> Result<RefundState, ProviderError> {
        let mut biz = json!({ "out_trade_no": r.out_trade_no, "refund_amount": yuan(r.amount), "out_request_no": r.out_refund_no });
        if let Some(reason) = &r.reason {
            biz["refund_reason"] = json!(reason);
        }
        let answer = self.execute("alipay.trade.refund", biz, true).await?;
        Ok(RefundState {
            // A repeat of the same out_request_no answers fund_change N: no new money
            // moved, the refund stands.
            status: RefundStatus::Success,
            provider_refund_id: answer["trade_no"].as_str().map(str::to_string),
            raw: answer,
        })
    }

    async fn callback(
        &self,
        _headers: &[(String, String)],
        body: &[u8],
        _now: i64,
    ) -> CallbackVerdict {
        let text = String::from_utf8_lossy(body);
        let outcome = ali::verify_notify(&self.verifier, &text, Some(&self.settings.app_id));
        let event = if outcome.accept {
            let p = &outcome.params;
            let params = serde_json::to_value(p).unwrap_or_default();
            let refund = p.contains_key("refund_fee") || p.contains_key("gmt_refund");
            Self::state_of(&params).map(|mut state| {
                // A full refund closes the trade.
                if refund && state.status == PaymentStatus::Closed {
                    state.status = PaymentStatus::Refunded;
                }
                PaymentEvent {
                    kind: if refund {
                        EventKind::Refund
                    } else {
                        EventKind::Payment
                    },
                    event_id: format!(
                        "{}:{}:{}",
                        p.get("trade_no").cloned().unwrap_or_default(),
                        p.get("trade_status").cloned().unwrap_or_default(),
                        p.get("out_biz_no").cloned().unwrap_or_default()
                    ),
                    out_trade_no: p.get("out_trade_no").cloned().unwrap_or_default(),
                    out_refund_no: p.get("out_biz_no").cloned(),
                    state,
                    payload: params,
                }
            })
        } else {
            Err(if outcome.signature_valid {
                "the notification is for another app".into()
            } else {
                "signature refused".into()
            })
        };
        CallbackVerdict {
            event,
            reply_status: 200,
            reply_content_type: "text/plain",
            reply_body: outcome.http_reply_to_alipay.into(),
        }
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.gateway).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_and_fen_are_exact() {
        assert_eq!(yuan(8888), "88.88");
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(19900), "199.00");
        assert_eq!(fen("88.88"), Some(8888));
        assert_eq!(fen("0.1"), Some(10));
        assert_eq!(fen("100"), Some(10000));
        assert_eq!(fen("1.234"), None);
        assert_eq!(fen("abc"), None);
    }
}
