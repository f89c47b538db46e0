//! WeChat Pay API v3 (direct merchant): Native (QR), JSAPI (with the client
//! `paySign`) and H5 prepay, query by `out_trade_no`, close, refund, and payment /
//! refund notifications. Requests signed with the merchant key; answers verified with
//! the platform key `Wechatpay-Serial` names (public-key or certificate mode). In
//! certificate mode the platform certificates are downloaded from `/v3/certificates`
//! when an answer or notification names one we do not hold (first use, rotation).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use shopops_kernel::outside::{Repeat, Target};

use super::{
    send, Answer, CallbackVerdict, Channel, EventKind, PaymentEvent, PaymentOrder, PaymentProvider,
    PaymentStarted, PaymentState, ProviderError, RefundOrder, RefundState,
};
use crate::client::rsa::{Certificate, RsaSigner, RsaVerifier};
use crate::client::wechatpay::{self as wx, Merchant, PlatformKeys, SignatureHeaders};
use crate::service::states::{PaymentStatus, RefundStatus};

fn default_base_url() -> String {
    "https://api.mch.weixin.qq.com".into()
}

fn default_h5_type() -> String {
    "Wap".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub mchid: String,
    pub appid: String,
    /// The merchant API certificate's serial (upper-case hex).
    pub merchant_serial_no: String,
    /// PEM (PKCS#8 or PKCS#1).
    pub merchant_private_key: SecretString,
    /// The 32-byte APIv3 key that encrypts notifications.
    pub apiv3_key: SecretString,
    /// Public-key mode (new merchants): `PUB_KEY_ID_…` and the PEM key.
    pub platform_public_key_id: Option<String>,
    pub platform_public_key: Option<String>,
    /// Certificate mode: platform certificates (PEM) to start with; the rest are
    /// downloaded when a `Wechatpay-Serial` names one not held yet.
    #[serde(default)]
    pub platform_certificates: Vec<String>,
    /// Our callback: `https://<host>/api/v1/integrations/callbacks/wechatpay`.
    pub notify_url: String,
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// H5 scene type (`Wap`, `iOS`, `Android`).
    #[serde(default = "default_h5_type")]
    pub h5_type: String,
}

/// A serial nobody holds (a forged notification, say) starts at most one download in
/// this interval, so it cannot turn into a flood of calls to WeChat Pay.
const DOWNLOAD_INTERVAL: Duration = Duration::from_secs(60);

pub struct WechatPay {
    settings: Settings,
    signer: RsaSigner,
    /// Replaced whole after a download; never held across an await.
    platform: RwLock<Arc<PlatformKeys>>,
    /// When the last download started; held while one runs, so concurrent callers
    /// wait for it instead of starting their own.
    last_download: tokio::sync::Mutex<Option<Instant>>,
    target: Arc<Target>,
}

#[derive(Deserialize)]
struct CertificateList {
    data: Vec<CertificateItem>,
}

#[derive(Deserialize)]
struct CertificateItem {
    serial_no: String,
    encrypt_certificate: EncryptedCertificate,
}

#[derive(Deserialize)]
struct EncryptedCertificate {
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

impl WechatPay {
    pub fn new(settings: Settings, target: Arc<Target>) -> Result<Self, String> {
        let signer = RsaSigner::from_pem(settings.merchant_private_key.expose_secret())
            .map_err(|e| format!("merchant_private_key: {e}"))?;
        if settings.apiv3_key.expose_secret().len() != 32 {
            return Err("apiv3_key: must be 32 bytes".into());
        }
        let mut platform = PlatformKeys {
            public_key_id: settings.platform_public_key_id.clone(),
            ..Default::default()
        };
        if let Some(pem) = &settings.platform_public_key {
            platform.public_key = Some(
                RsaVerifier::from_pem_or_base64(pem)
                    .map_err(|e| format!("platform_public_key: {e}"))?,
            );
        }
        for (i, pem) in settings.platform_certificates.iter().enumerate() {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| format!("platform_certificates[{i}]: {e}"))?;
            platform.certificates.insert(cert.serial_no, cert.verifier);
        }
        if platform.public_key.is_some() != platform.public_key_id.is_some() {
            return Err(
                "platform_public_key_id and platform_public_key: give both or neither".into(),
            );
        }
        Ok(Self {
            settings,
            signer,
            platform: RwLock::new(Arc::new(platform)),
            last_download: tokio::sync::Mutex::new(None),
            target,
        })
    }

    fn platform(&self) -> Arc<PlatformKeys> {
        self.platform
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The platform keys to verify a signature by `serial` with, downloading the
    /// certificates first when `serial` names one not held yet.
    async fn platform_for(&self, serial: Option<&str>) -> Arc<PlatformKeys> {
        let keys = self.platform();
        let Some(serial) = serial else {
            return keys;
        };
        if serial.starts_with("PUB_KEY_ID_") || keys.for_serial(serial).is_some() {
            return keys;
        }
        let mut last = self.last_download.lock().await;
        // A download that finished while this call waited may have brought it.
        let keys = self.platform();
        if keys.for_serial(serial).is_some()
            || last.is_some_and(|at| at.elapsed() < DOWNLOAD_INTERVAL)
        {
            return keys;
        }
        *last = Some(Instant::now());
        match self.download_certificates().await {
            Ok(serials) => tracing::info!(
                mchid = %self.settings.mchid,
                ?serials,
                wanted = serial,
                "WeChat Pay platform certificates downloaded"
            ),
            Err(why) => tracing::warn!(
                mchid = %self.settings.mchid,
                wanted = serial,
                "WeChat Pay platform certificates not downloaded: {why}"
            ),
        }
        self.platform()
    }

    /// `GET /v3/certificates`: each certificate decrypted with the APIv3 key, the answer
    /// verified with the certificates it carries (the AEAD tag under the APIv3 key, which
    /// only WeChat Pay and the merchant hold, is what vouches for them — the official
    /// SDKs trust a download the same way), then added to the ones held.
    async fn download_certificates(&self) -> Result<Vec<String>, String> {
        let path = "/v3/certificates";
        let answer = self
            .send_signed("GET", path, String::new(), false)
            .await
            .map_err(|e| e.to_string())?;
        let text = answer.text();
        if answer.status != 200 {
            return Err(format!("HTTP {}: {text}", answer.status));
        }
        let list: CertificateList =
            serde_json::from_str(&text).map_err(|e| format!("unreadable answer: {e}"))?;
        let mut keys = (*self.platform()).clone();
        let mut serials = Vec::with_capacity(list.data.len());
        for item in list.data {
            let e = item.encrypt_certificate;
            let pem = wx::decrypt(
                self.settings.apiv3_key.expose_secret().as_bytes(),
                &e.nonce,
                &e.associated_data,
                &e.ciphertext,
            )
            .map_err(|e| format!("certificate {}: {e}", item.serial_no))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("certificate {}: {e}", item.serial_no))?;
            if !cert.serial_no.eq_ignore_ascii_case(&item.serial_no) {
                return Err(format!(
                    "certificate listed as {} has serial {}",
                    item.serial_no, cert.serial_no
                ));
            }
            serials.push(cert.serial_no.clone());
            keys.certificates.insert(cert.serial_no, cert.verifier);
        }
        let headers = SignatureHeaders::from_pairs(
            answer.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        wx::verify(&keys, &headers, &text, chrono::Utc::now().timestamp())
            .map_err(|why| format!("the download's signature does not hold ({why:?})"))?;
        *self
            .platform
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
        Ok(serials)
    }

    fn merchant(&self) -> Merchant<'_> {
        Merchant {
            mchid: &self.settings.mchid,
            serial_no: &self.settings.merchant_serial_no,
            signer: &self.signer,
        }
    }

    /// One signed call; 2xx answers are verified before they are believed.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        write: bool,
    ) -> Result<(u16, Value), ProviderError> {
        let body_text = body.map(Value::to_string).unwrap_or_default();
        let answer = self.send_signed(method, path, body_text, write).await?;
        self.read(answer, write).await
    }

    async fn send_signed(
        &self,
        method: &str,
        path: &str,
        body_text: String,
        write: bool,
    ) -> Result<Answer, ProviderError> {
        let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let now = chrono::Utc::now().timestamp();
        let signed = self.merchant().sign(method, path, now, &nonce, &body_text);
        let url = format!("{}{path}", self.settings.base_url.trim_end_matches('/'));
        let client = self.target.client();
        let mut request = match method {
            "GET" => client.get(url),
            _ => client.post(url).body(body_text),
        }
        .header("Authorization", &signed.authorization)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json");
        if let Some(id) = &self.settings.platform_public_key_id {
            request = request.header("Wechatpay-Serial", id);
        }
        let request = request
            .build()
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let repeat = if write { Repeat::Never } else { Repeat::IfSafe };
        send(&self.target, request, repeat, write).await
    }

    async fn read(&self, answer: Answer, write: bool) -> Result<(u16, Value), ProviderError> {
        let text = answer.text();
        if (200..300).contains(&answer.status) {
            let headers = SignatureHeaders::from_pairs(
                answer.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            let platform = self.platform_for(headers.serial.as_deref()).await;
            if let Err(why) = wx::verify(&platform, &headers, &text, chrono::Utc::now().timestamp())
            {
                let message = format!("the answer's signature does not hold ({why:?})");
                return Err(if write {
                    ProviderError::Ambiguous(message)
                } else {
                    ProviderError::Unavailable(message)
                });
            }
            let value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text)
                    .map_err(|_| ProviderError::Unavailable("unreadable answer".into()))?
            };
            return Ok((answer.status, value));
        }
        // Errors come unsigned: {"code", "message"}.
        let error: Value = serde_json::from_str(&text).unwrap_or_default();
        let code = error["code"].as_str().unwrap_or("HTTP_ERROR").to_string();
        let message = error["message"].as_str().unwrap_or_default().to_string();
        Err(match answer.status {
            429 => ProviderError::Unavailable(format!("{code}: {message}")),
            s if s >= 500 && write => {
                ProviderError::Ambiguous(format!("HTTP {s} {code}: {message}"))
            }
            s if s >= 500 => ProviderError::Unavailable(format!("HTTP {s} {code}: {message}")),
            // A signature the platform refuses is our configuration's fault at this
            // provider, not the request's.
            401 => ProviderError::Unavailable(format!("{code}: {message}")),
            _ => ProviderError::rejected(code, message),
        })
    }

    /// A transaction as WeChat Pay describes it; a `trade_state` it does not document
    /// makes the answer unreadable.
    fn state_of(transaction: &Value) -> Result<PaymentState, String> {
        let status = match transaction["trade_state"].as_str().unwrap_or_default() {
            "SUCCESS" => PaymentStatus::Paid,
            "REFUND" => PaymentStatus::Refunded,
            "CLOSED" | "REVOKED" => PaymentStatus::Closed,
            "PAYERROR" => PaymentStatus::Failed,
            "NOTPAY" | "USERPAYING" => PaymentStatus::Pending,
            other => return Err(format!("unknown trade_state `{other}`")),
        };
        Ok(PaymentState {
            status,
            provider_trade_no: transaction["transaction_id"].as_str().map(str::to_string),
            paid_amount: (status == PaymentStatus::Paid)
                .then(|| transaction["amount"]["total"].as_i64())
                .flatten(),
            raw: transaction.clone(),
        })
    }

    /// A refund notification's resource: refunded when it succeeded; a refund that
    /// closed or failed leaves the payment where it was (shown as pending, which
    /// never moves a payment back).
    fn refund_notice_state(resource: &Value) -> Result<PaymentState, String> {
        let status = match resource["refund_status"].as_str().unwrap_or_default() {
            "SUCCESS" => PaymentStatus::Refunded,
            "CLOSED" | "ABNORMAL" | "PROCESSING" => PaymentStatus::Pending,
            other => return Err(format!("unknown refund_status `{other}`")),
        };
        Ok(PaymentState {
            status,
            provider_trade_no: resource["transaction_id"].as_str().map(str::to_string),
            paid_amount: None,
            raw: resource.clone(),
        })
    }
}

#[async_trait::async_trait]
impl PaymentProvider for WechatPay {
    fn supports(&self, channel: Channel) -> bool {
        matches!(channel, Channel::Qr | Channel::Jsapi | Channel::H5)
    }

    async fn create(&self, order: &PaymentOrder) -> Result<PaymentStarted, ProviderError> {
        let s = &self.settings;
        let mut body = json!({
            "appid": s.appid, "mchid": s.mchid, "description": order.description,
            "out_trade_no": order.out_trade_no, "notify_url": s.notify_url,
            "amount": { "total": order.amount, "currency": "CNY" },
        });
        let path = match order.channel {
            Channel::Qr => "/v3/pay/transactions/native",
            Channel::Jsapi => {
                let openid = order.openid.as_deref().ok_or_else(|| {
                    ProviderError::rejected("PARAM_ERROR", "JSAPI needs the payer's openid")
                })?;
                body["payer"] = json!({ "openid": openid });
                "/v3/pay/transactions/jsapi"
            }
            Channel::H5 => {
                let ip = order.client_ip.as_deref().ok_or_else(|| {
                    ProviderError::rejected("PARAM_ERROR", "H5 needs the payer's IP")
                })?;
                body["scene_info"] =
                    json!({ "payer_client_ip": ip, "h5_info": { "type": s.h5_type } });
                "/v3/pay/transactions/h5"
            }
            Channel::Page => {
                return Err(ProviderError::rejected(
                    "UNSUPPORTED_CHANNEL",
                    "WeChat Pay has no page pay",
                ))
            }
        };
        let (_, answer) = self.call("POST", path, Some(&body), true).await?;
        let client_data = match order.channel {
            Channel::Qr => json!({ "code_url": answer["code_url"] }),
            Channel::H5 => json!({ "h5_url": answer["h5_url"] }),
            _ => {
                let prepay_id = answer["prepay_id"].as_str().unwrap_or_default();
                let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
                let ts = chrono::Utc::now().timestamp().to_string();
                let params = wx::pay_sign(
                    &self.signer,
                    &s.appid,
                    &ts,
                    &nonce,
                    &format!("prepay_id={prepay_id}"),
                );
                json!({ "prepay_id": prepay_id, "pay_params": params.client_params })
            }
        };
        Ok(PaymentStarted { client_data })
    }

    async fn query(&self, out_trade_no: &str) -> Result<Option<PaymentState>, ProviderError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            shopops_kernel::encoding::rfc3986(out_trade_no),
            self.settings.mchid
        );
        match self.call("GET", &path, None, false).await {
            Ok((_, t)) => Self::state_of(&t)
                .map(Some)
                .map_err(ProviderError::Unavailable),
            Err(ProviderError::Rejected { code, .. }) if code == "ORDER_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn close(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}/close",
            shopops_kernel::encoding::rfc3986(out_trade_no)
        );
        self.call(
            "POST",
            &path,
            Some(&json!({ "mchid": self.settings.mchid })),
            true,
        )
        .await
        .map(|_| ())
    }

    async fn refund(&self, r: &RefundOrder) -> Result<RefundState, ProviderError> {
        let mut body = json!({
            "out_trade_no": r.out_trade_no, "out_refund_no": r.out_refund_no,
            "amount": { "refund": r.amount, "total": r.total, "currency": "CNY" },
        });
        if let Some(reason) = &r.reason {
            body["reason"] = json!(reason);
        }
        let (_, answer) = self
            .call("POST", "/v3/refund/domestic/refunds", Some(&body), true)
            .await?;
        let status = match answer["status"].as_str().unwrap_or_default() {
            "SUCCESS" => RefundStatus::Success,
            "CLOSED" => RefundStatus::Closed,
            "ABNORMAL" => RefundStatus::Abnormal,
            "PROCESSING" => RefundStatus::Processing,
            // It answered, so the refund reached it; what became of it is unknown.
            other => {
                return Err(ProviderError::Ambiguous(format!(
                    "unknown refund status `{other}`"
                )))
            }
        };
        Ok(RefundState {
            status,
            provider_refund_id: answer["refund_id"].as_str().map(str::to_string),
            raw: answer,
        })
    }

    async fn callback(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> CallbackVerdict {
        let text = String::from_utf8_lossy(body);
        let headers =
            SignatureHeaders::from_pairs(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let platform = self.platform_for(headers.serial.as_deref()).await;
        let outcome = wx::open_callback(
            &platform,
            self.settings.apiv3_key.expose_secret().as_bytes(),
            &headers,
            &text,
            now,
        );
        let reply = outcome.http_reply_to_wechat.clone();
        let event = match (&outcome.sdk_callback_result, &outcome.resource) {
            (Some(notification), Some(resource)) if outcome.accept => {
                let refund = notification["event_type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("REFUND."));
                let state = if refund {
                    Self::refund_notice_state(resource)
                } else {
                    Self::state_of(resource)
                };
                let id = if refund {
                    &resource["refund_id"]
                } else {
                    &resource["transaction_id"]
                };
                state.map(|state| PaymentEvent {
                    kind: if refund {
                        EventKind::Refund
                    } else {
                        EventKind::Payment
                    },
                    event_id: format!(
                        "{}:{}",
                        id.as_str().unwrap_or_default(),
                        state.status.as_str()
                    ),
                    out_trade_no: resource["out_trade_no"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    out_refund_no: resource["out_refund_no"].as_str().map(str::to_string),
                    state,
                    payload: notification.clone(),
                })
            }
            _ => Err(match outcome.refusal {
                Some(why) => format!("signature refused: {why:?}"),
                None => "the resource cannot be decrypted with the APIv3 key".into(),
            }),
        };
        CallbackVerdict {
            event,
            reply_status: reply.status,
            reply_content_type: "application/json",
            reply_body: reply.body,
        }
    }

    async fn health(&self) -> Result<(), String> {
        super::probe(&self.target, &self.settings.base_url).await
    }
}
