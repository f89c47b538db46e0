//! Message push (webhooks): verified (`X-Kuaishou-Signature` = hex HMAC-SHA256 of
//! `"{timestamp}.{body}"` with the webhook secret, `X-Kuaishou-Timestamp` within 300 s,
//! constant-time comparison), decrypted when the body is the platform's encrypted form,
//! stored once per message id and holding shop before it is acknowledged, then
//! dispatched to the handlers in the background ([`crate::service::events`]).
//!
//! Decryption: Base64 body, AES-CBC with the Base64-decoded message secret as key, a
//! zero IV and PKCS#7 padding — as the public Go client `WyntersN/go-kwai` implements
//! the platform's scheme (not checked against the platform itself from here).

use std::sync::Arc;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::Sha256;
use shopops_kernel::{tr, AppResult, Kernel};
use subtle::ConstantTimeEq;

use crate::config::KuaishouConfig;
use crate::entities::event;
use crate::error::{self, Code};
use crate::platform::Platform;
use crate::service::events::{self, DispatchStatus};
use crate::store::{self, across_tenants, NewEvent};

pub const TOLERANCE_SECS: i64 = 300;

/// The headers that authenticate a pushed message, as sent.
pub struct PushHeaders<'a> {
    pub signature: Option<&'a str>,
    pub timestamp: Option<&'a str>,
}

/// Checks the signature and the timestamp window.
pub fn verify(
    config: &KuaishouConfig,
    headers: &PushHeaders<'_>,
    body: &[u8],
    now: i64,
) -> AppResult<()> {
    let secret = config
        .webhook_secret
        .as_ref()
        .map(|s| s.expose_secret().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            error::not_configured(&["KUAISHOU_WEBHOOK_SECRET"]).with_message(tr!(
                "未设置 KUAISHOU_WEBHOOK_SECRET，无法验证推送消息",
                "KUAISHOU_WEBHOOK_SECRET is not set"
            ))
        })?;
    let (Some(signature), Some(timestamp)) = (headers.signature, headers.timestamp) else {
        return Err(error::webhook_signature(tr!(
            "需要 X-Kuaishou-Signature 和 X-Kuaishou-Timestamp",
            "X-Kuaishou-Signature and X-Kuaishou-Timestamp are required"
        )));
    };
    let ts: i64 = timestamp.trim().parse().map_err(|_| {
        error::webhook_signature(tr!(
            "X-Kuaishou-Timestamp 不是数字",
            "X-Kuaishou-Timestamp is not a number"
        ))
    })?;
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(Code::WebhookTimestampOutOfWindow
            .err()
            .with_details(json!({ "tolerance_secs": TOLERANCE_SECS })));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if expected
        .as_bytes()
        .ct_eq(signature.trim().to_ascii_lowercase().as_bytes())
        .into()
    {
        Ok(())
    } else {
        Err(error::webhook_signature(tr!(
            "签名不匹配",
            "the signature does not match"
        )))
    }
}

/// The message JSON: the body itself, or decrypted when it is the encrypted form.
pub fn open(config: &KuaishouConfig, body: &[u8]) -> AppResult<Value> {
    let text = std::str::from_utf8(body)
        .map_err(|_| error::webhook_body(tr!("消息体不是 UTF-8", "the body is not UTF-8")))?
        .trim();
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|_| {
            error::webhook_body(tr!("消息体不是有效的 JSON", "the body is not valid JSON"))
        });
    }
    let key = config
        .msg_secret
        .as_ref()
        .and_then(|s| B64.decode(s.expose_secret().trim()).ok())
        .ok_or_else(|| {
            error::not_configured(&["KUAISHOU_MSG_SECRET"]).with_message(tr!(
                "加密的推送消息需要 KUAISHOU_MSG_SECRET（Base64）",
                "KUAISHOU_MSG_SECRET (Base64) is needed for encrypted messages"
            ))
        })?;
    let sealed = B64.decode(text).map_err(|_| {
        error::webhook_body(tr!(
            "消息体既不是 JSON 也不是 Base64",
            "the body is neither JSON nor Base64"
        ))
    })?;
    let plain = decrypt(&key, &sealed).ok_or_else(|| {
        error::webhook_body(tr!(
            "无法用 KUAISHOU_MSG_SECRET 解密该消息",
            "the message cannot be decrypted with KUAISHOU_MSG_SECRET"
        ))
    })?;
    serde_json::from_slice(&plain).map_err(|_| {
        error::webhook_body(tr!(
            "解密后的消息不是 JSON",
            "the decrypted message is not JSON"
        ))
    })
}

fn decrypt(key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let iv = [0u8; 16];
    match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(sealed)
            .ok(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, &iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(sealed)
            .ok(),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, &iv)
            .ok()?
            .decrypt_padded_vec_mut::<Pkcs7>(sealed)
            .ok(),
        _ => None,
    }
}

/// What became of a verified message.
#[derive(Debug)]
pub enum Stored {
    /// New copies, one per shop that holds the seller (a heartbeat's copies have
    /// nothing to dispatch).
    New(Vec<event::Model>),
    /// Every holding shop had this message already (the platform sent it again).
    Duplicate,
    /// No shop here holds the seller (never connected, or every connection revoked):
    /// acknowledged and dropped.
    Unowned,
}

/// Stores a message once per shop that holds its seller. Several tenants may hold
/// one seller (each connected it); each gets its own copy, dispatched to it alone. A
/// revoked shop gets nothing: once a tenant disconnects a seller, its pushes are no
/// longer that tenant's.
pub async fn store(kernel: &Kernel, message: &Value) -> AppResult<Stored> {
    let text = |k: &str| match &message[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let message_id = [text("msgId"), text("eventId")]
        .into_iter()
        .find(|s| !s.is_empty())
        .ok_or_else(|| {
            error::webhook_body(tr!(
                "消息没有 msgId 或 eventId",
                "the message has no msgId or eventId"
            ))
        })?;
    let open_id = text("openId");
    let holders = across_tenants::shops_holding(&kernel.db, &open_id).await?;
    if holders.is_empty() {
        return Ok(Stored::Unowned);
    }
    let heartbeat = message["test"].as_bool() == Some(true);
    let event_name = text("event");
    let new = NewEvent {
        message_id: &message_id,
        event: &event_name,
        open_id: &open_id,
        payload: message,
        received_at: chrono::Utc::now(),
        dispatch: if heartbeat {
            DispatchStatus::Skipped
        } else {
            DispatchStatus::Pending
        },
    };
    let mut stored = Vec::new();
    for holder in &holders {
        if let Some(row) = store::insert_event(&kernel.db, holder, &new).await? {
            stored.push(row);
        }
    }
    Ok(if stored.is_empty() {
        Stored::Duplicate
    } else {
        Stored::New(stored)
    })
}

/// A pushed message: verified, opened, stored, counted, and its new copies handed to
/// the handlers in the background. True when every holding shop had it already.
pub async fn receive(
    kernel: &Kernel,
    platform: &Arc<Platform>,
    headers: &PushHeaders<'_>,
    body: &[u8],
) -> AppResult<bool> {
    verify(
        &platform.config,
        headers,
        body,
        chrono::Utc::now().timestamp(),
    )?;
    let message = open(&platform.config, body)?;
    let event = message["event"].as_str().unwrap_or_default().to_string();
    let stored = store(kernel, &message).await?;
    let outcome = match &stored {
        Stored::New(_) => "stored",
        Stored::Duplicate => "duplicate",
        Stored::Unowned => {
            // Acknowledged so the platform stops resending; nobody here may see it.
            tracing::info!(event = %event, "Kuaishou push for a seller no shop here holds: dropped");
            "unowned"
        }
    };
    platform
        .metrics
        .push_events
        .with_label_values(&[&event, outcome])
        .inc();
    let new = match stored {
        Stored::New(rows) => rows,
        Stored::Duplicate => return Ok(true),
        Stored::Unowned => return Ok(false),
    };
    for row in new
        .into_iter()
        .filter(|r| r.dispatch_status == DispatchStatus::Pending)
    {
        // Answer now; the handlers run in the background (the sweep job retries them
        // if this process stops first).
        let (kernel, platform) = (kernel.clone(), platform.clone());
        tokio::spawn(async move {
            if let Err(e) = events::dispatch(&kernel, &platform, row).await {
                tracing::warn!(error = %e, "Kuaishou event dispatch deferred to the sweep");
            }
        });
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;

    fn config(secret: &str, msg: Option<&str>) -> KuaishouConfig {
        let mut c: KuaishouConfig = serde_json::from_value(json!({})).unwrap();
        c.webhook_secret = Some(secret.to_string().into());
        c.msg_secret = msg.map(|m| m.to_string().into());
        c
    }

    #[test]
    fn signatures_windows_and_forgeries() {
        let c = config("wh-secret", None);
        let body = br#"{"msgId":"m1"}"#;
        // Computed with Python: hmac.new(b"wh-secret", b'1700000000.{"msgId":"m1"}', sha256).hexdigest()
        let good = "2514e8cfb8eeabd4812a7ef259a38f58ab135987c0cc4d8a816546ed1f375fd3";
        let headers = |signature, timestamp| PushHeaders {
            signature,
            timestamp,
        };
        let upper = good.to_ascii_uppercase();
        assert!(verify(
            &c,
            &headers(Some(good), Some("1700000000")),
            body,
            1_700_000_100
        )
        .is_ok());
        assert!(verify(
            &c,
            &headers(Some(&upper), Some("1700000000")),
            body,
            1_700_000_100
        )
        .is_ok());
        assert_eq!(
            verify(
                &c,
                &headers(Some(good), Some("1700000000")),
                body,
                1_700_000_400
            )
            .unwrap_err()
            .code,
            "WEBHOOK_TIMESTAMP_OUT_OF_WINDOW"
        );
        assert_eq!(
            verify(
                &c,
                &headers(Some(good), Some("1700000000")),
                br#"{"msgId":"m2"}"#,
                1_700_000_100
            )
            .unwrap_err()
            .code,
            "INVALID_WEBHOOK_SIGNATURE"
        );
        assert_eq!(
            verify(&c, &headers(None, Some("1700000000")), body, 1_700_000_100)
                .unwrap_err()
                .code,
            "INVALID_WEBHOOK_SIGNATURE"
        );
    }

    #[test]
    fn encrypted_bodies_are_opened() {
        let key = [7u8; 32];
        let plain = br#"{"eventId":"e1","msgId":"m1","openId":"seller-1","event":"kwaishop_order_paySuccess"}"#;
        let sealed = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &[0u8; 16])
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(plain);
        let c = config("x", Some(&B64.encode(key)));
        let message = open(&c, B64.encode(sealed).as_bytes()).unwrap();
        assert_eq!(message["msgId"], "m1");
        let wrong = config("x", Some(&B64.encode([8u8; 32])));
        assert!(open(
            &wrong,
            B64.encode(
                cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &[0u8; 16])
                    .unwrap()
                    .encrypt_padded_vec_mut::<Pkcs7>(plain)
            )
            .as_bytes()
        )
        .is_err());
        assert_eq!(open(&c, br#"{"msgId":"plain"}"#).unwrap()["msgId"], "plain");
    }
}
