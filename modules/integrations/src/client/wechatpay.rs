//! WeChat Pay API v3 (`shared/integrations/PROTOCOLS.md` §1): request signing, response
//! and callback verification, AEAD_AES_256_GCM decryption, the JSAPI `paySign`.
//! Pure functions: the adapter (`providers/wechatpay.rs`) does the HTTP.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use super::rsa::{RsaSigner, RsaVerifier};

/// The only signature type WeChat Pay uses; a missing header means it too.
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";
/// A response or callback timestamp this far (or farther) from now is refused, as the
/// official Go SDK does.
pub const MAX_SKEW_SECS: i64 = 300;

/// `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n` (every line ends in `\n`).
pub fn signing_message(
    method: &str,
    canonical_url: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{canonical_url}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The `Authorization` header, fields in the official Go SDK's order.
pub fn authorization(
    mchid: &str,
    nonce: &str,
    timestamp: i64,
    serial_no: &str,
    signature: &str,
) -> String {
    format!(
        "{SIGNATURE_TYPE} mchid=\"{mchid}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{serial_no}\",signature=\"{signature}\""
    )
}

/// A signed request's parts.
#[derive(Debug, Clone, Serialize)]
pub struct SignedRequest {
    pub signing_message: String,
    pub signature: String,
    pub authorization: String,
}

/// The merchant side: who signs requests.
pub struct Merchant<'a> {
    pub mchid: &'a str,
    /// The merchant API certificate's serial (upper-case hex).
    pub serial_no: &'a str,
    pub signer: &'a RsaSigner,
}

impl Merchant<'_> {
    /// Signs one request; `canonical_url` is the path and query exactly as sent.
    pub fn sign(
        &self,
        method: &str,
        canonical_url: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> SignedRequest {
        let signing_message = signing_message(method, canonical_url, timestamp, nonce, body);
        let signature = self.signer.sign_b64(signing_message.as_bytes());
        let authorization = authorization(self.mchid, nonce, timestamp, self.serial_no, &signature);
        SignedRequest {
            signing_message,
            signature,
            authorization,
        }
    }
}

/// `TIMESTAMP\nNONCE\nBODY\n` — what a response or callback signature covers.
pub fn verification_message(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// The keys WeChat Pay signs with: its public key (new merchants, `PUB_KEY_ID_…`) and/or
/// platform certificates by serial.
#[derive(Debug, Clone, Default)]
pub struct PlatformKeys {
    pub public_key_id: Option<String>,
    pub public_key: Option<RsaVerifier>,
    /// Upper-case hex serial → key.
    pub certificates: HashMap<String, RsaVerifier>,
}

impl PlatformKeys {
    /// The key a `Wechatpay-Serial` names.
    pub fn for_serial(&self, serial: &str) -> Option<&RsaVerifier> {
        if serial.starts_with("PUB_KEY_ID_") {
            return match (&self.public_key_id, &self.public_key) {
                (Some(id), Some(key)) if id == serial => Some(key),
                _ => None,
            };
        }
        self.certificates.get(&serial.to_ascii_uppercase())
    }
}

/// The `Wechatpay-*` headers of a response or callback.
#[derive(Debug, Clone, Default)]
pub struct SignatureHeaders {
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub signature: Option<String>,
    pub serial: Option<String>,
    pub signature_type: Option<String>,
}

impl SignatureHeaders {
    /// From header name/value pairs (names case-insensitive).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut h = Self::default();
        for (name, value) in pairs {
            let value = Some(value.to_string());
            match name.to_ascii_lowercase().as_str() {
                "wechatpay-timestamp" => h.timestamp = value,
                "wechatpay-nonce" => h.nonce = value,
                "wechatpay-signature" => h.signature = value,
                "wechatpay-serial" => h.serial = value,
                "wechatpay-signature-type" => h.signature_type = value,
                _ => {}
            }
        }
        h
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    MissingHeaders,
    UnknownSignatureType,
    UnknownSerial,
    Stale,
    BadSignature,
}

/// Verifies a 2xx response or a callback: signature over `TIMESTAMP\nNONCE\nBODY\n` with
/// the key `Wechatpay-Serial` names, timestamp within [`MAX_SKEW_SECS`] of `now`.
pub fn verify(
    keys: &PlatformKeys,
    headers: &SignatureHeaders,
    body: &str,
    now: i64,
) -> Result<(), Refusal> {
    let (Some(ts), Some(nonce), Some(signature), Some(serial)) = (
        headers.timestamp.as_deref(),
        headers.nonce.as_deref(),
        headers.signature.as_deref(),
        headers.serial.as_deref(),
    ) else {
        return Err(Refusal::MissingHeaders);
    };
    if headers
        .signature_type
        .as_deref()
        .is_some_and(|t| t != SIGNATURE_TYPE)
    {
        return Err(Refusal::UnknownSignatureType);
    }
    let key = keys.for_serial(serial).ok_or(Refusal::UnknownSerial)?;
    let ts_value: i64 = ts.trim().parse().map_err(|_| Refusal::MissingHeaders)?;
    if (now - ts_value).abs() >= MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    if key.verify_b64(verification_message(ts, nonce, body).as_bytes(), signature) {
        Ok(())
    } else {
        Err(Refusal::BadSignature)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecryptError {
    #[error("the ciphertext is not Base64")]
    Base64,
    #[error("the key must be 16 or 32 bytes (the APIv3 key is 32)")]
    KeyLength,
    #[error("the nonce must be 12 bytes")]
    NonceLength,
    #[error("authentication failed: wrong APIv3 key or tampered data")]
    Tag,
    #[error("the plaintext is not UTF-8")]
    Utf8,
}

/// AEAD_AES_256_GCM as WeChat Pay uses it: key and nonce as UTF-8 bytes, the tag in the
/// last 16 bytes of the Base64 ciphertext. A 16-byte key selects AES-128-GCM (the Go
/// SDK's unit vector); the adapter insists on 32 bytes.
pub fn decrypt(
    key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<String, DecryptError> {
    let sealed = B64
        .decode(ciphertext_b64.trim())
        .map_err(|_| DecryptError::Base64)?;
    if nonce.len() != 12 {
        return Err(DecryptError::NonceLength);
    }
    let nonce = Nonce::from_slice(nonce.as_bytes());
    let payload = Payload {
        msg: &sealed,
        aad: associated_data.as_bytes(),
    };
    let plain = match key.len() {
        32 => Aes256Gcm::new_from_slice(key)
            .map_err(|_| DecryptError::KeyLength)?
            .decrypt(nonce, payload),
        16 => Aes128Gcm::new_from_slice(key)
            .map_err(|_| DecryptError::KeyLength)?
            .decrypt(nonce, payload),
        _ => return Err(DecryptError::KeyLength),
    }
    .map_err(|_| DecryptError::Tag)?;
    String::from_utf8(plain).map_err(|_| DecryptError::Utf8)
}

/// What a callback (payment or refund notification) comes to.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackOutcome {
    pub verification_message: String,
    pub signature_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    pub decrypt_ok: bool,
    pub plaintext: Option<String>,
    /// The decrypted resource (the transaction or refund).
    pub resource: Option<Value>,
    /// The notification with its resource decrypted (what the SDKs hand back).
    pub sdk_callback_result: Option<Value>,
    /// Signature valid, fresh, and decrypted: the event may be acted on.
    pub accept: bool,
    pub http_reply_to_wechat: Reply,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// 200 with an empty body acknowledges; anything else makes WeChat Pay resend.
    pub fn ok() -> Self {
        Self {
            status: 200,
            body: String::new(),
        }
    }

    pub fn fail() -> Self {
        Self {
            status: 500,
            body: r#"{"code":"FAIL","message":"失败"}"#.into(),
        }
    }
}

/// Verifies a notification's signature over the raw body, then decrypts its resource
/// with the APIv3 key. Both are reported; only both together accept it.
pub fn open_callback(
    keys: &PlatformKeys,
    apiv3_key: &[u8],
    headers: &SignatureHeaders,
    body: &str,
    now: i64,
) -> CallbackOutcome {
    let verification_message = verification_message(
        headers.timestamp.as_deref().unwrap_or_default(),
        headers.nonce.as_deref().unwrap_or_default(),
        body,
    );
    let verdict = verify(keys, headers, body, now);
    let notification: Option<Value> = serde_json::from_str(body).ok();
    let plaintext = notification.as_ref().and_then(|n| {
        let r = &n["resource"];
        decrypt(
            apiv3_key,
            r["nonce"].as_str()?,
            r["associated_data"].as_str().unwrap_or(""),
            r["ciphertext"].as_str()?,
        )
        .ok()
    });
    let resource: Option<Value> = plaintext
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let accept = verdict.is_ok() && resource.is_some();
    let sdk_callback_result = match (accept, notification, &resource) {
        (true, Some(mut n), Some(r)) => {
            n["resource"] = r.clone();
            Some(n)
        }
        _ => None,
    };
    CallbackOutcome {
        verification_message,
        signature_valid: verdict.is_ok(),
        refusal: verdict.err(),
        decrypt_ok: plaintext.is_some(),
        plaintext,
        resource,
        sdk_callback_result,
        accept,
        http_reply_to_wechat: if accept { Reply::ok() } else { Reply::fail() },
    }
}

/// The JSAPI / mini-program client parameters: `paySign` over
/// `appId\ntimeStamp\nnonceStr\npackage\n`, `signType` `RSA`.
#[derive(Debug, Clone, Serialize)]
pub struct PaySign {
    pub signing_message: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
    #[serde(rename = "signType")]
    pub sign_type: &'static str,
    pub client_params: Value,
}

pub fn pay_sign(
    signer: &RsaSigner,
    app_id: &str,
    time_stamp: &str,
    nonce_str: &str,
    package: &str,
) -> PaySign {
    let signing_message = format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n");
    let pay_sign = signer.sign_b64(signing_message.as_bytes());
    let client_params = serde_json::json!({
        "appId": app_id, "timeStamp": time_stamp, "nonceStr": nonce_str,
        "package": package, "signType": "RSA", "paySign": pay_sign,
    });
    PaySign {
        signing_message,
        pay_sign,
        sign_type: "RSA",
        client_params,
    }
}
