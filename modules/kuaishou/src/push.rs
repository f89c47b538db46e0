//! Message push (webhooks): verified (seed 000: `X-Kuaishou-Signature` = hex
//! HMAC-SHA256 of `"{timestamp}.{body}"` with the webhook secret, `X-Kuaishou-Timestamp`
//! within 300 s, constant-time comparison), decrypted when the body is the platform's
//! encrypted form, stored once per message id before it is acknowledged.
//!
//! Decryption: Base64 body, AES-CBC with the Base64-decoded message secret as key, a
//! zero IV and PKCS#7 padding — as the public Go client `WyntersN/go-kwai` implements
//! the platform's scheme (not checked against the platform itself from here).

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::Sha256;
use shopops_kernel::{AppError, AppResult, Kernel};
use subtle::ConstantTimeEq;

use crate::config::KuaishouConfig;
use crate::entities::{event, shop};

pub const TOLERANCE_SECS: i64 = 300;

fn unauthorized(code: &'static str, message: &str) -> AppError {
    AppError::new(actix_web::http::StatusCode::UNAUTHORIZED, code, message)
}

/// Checks the signature and the timestamp window.
pub fn verify(
    config: &KuaishouConfig,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> AppResult<()> {
    let secret = config
        .webhook_secret
        .as_ref()
        .map(|s| s.expose_secret().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "KUAISHOU_NOT_CONFIGURED",
                "KUAISHOU_WEBHOOK_SECRET is not set",
            )
        })?;
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(unauthorized(
            "INVALID_WEBHOOK_SIGNATURE",
            "X-Kuaishou-Signature and X-Kuaishou-Timestamp are required",
        ));
    };
    let ts: i64 = timestamp.trim().parse().map_err(|_| {
        unauthorized(
            "INVALID_WEBHOOK_SIGNATURE",
            "X-Kuaishou-Timestamp is not a number",
        )
    })?;
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(unauthorized(
            "WEBHOOK_TIMESTAMP_OUT_OF_WINDOW",
            "the message is too old or from the future; replays are refused",
        )
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
        Err(unauthorized(
            "INVALID_WEBHOOK_SIGNATURE",
            "the signature does not match",
        ))
    }
}

/// The message JSON: the body itself, or decrypted when it is the encrypted form.
pub fn open(config: &KuaishouConfig, body: &[u8]) -> AppResult<Value> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AppError::bad_request("INVALID_WEBHOOK_BODY", "the body is not UTF-8"))?
        .trim();
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|_| {
            AppError::bad_request("INVALID_WEBHOOK_BODY", "the body is not valid JSON")
        });
    }
    let key = config
        .msg_secret
        .as_ref()
        .and_then(|s| B64.decode(s.expose_secret().trim()).ok())
        .ok_or_else(|| {
            AppError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "KUAISHOU_NOT_CONFIGURED",
                "KUAISHOU_MSG_SECRET (Base64) is needed for encrypted messages",
            )
        })?;
    let sealed = B64.decode(text).map_err(|_| {
        AppError::bad_request(
            "INVALID_WEBHOOK_BODY",
            "the body is neither JSON nor Base64",
        )
    })?;
    let plain = decrypt(&key, &sealed).ok_or_else(|| {
        AppError::bad_request(
            "INVALID_WEBHOOK_BODY",
            "the message cannot be decrypted with KUAISHOU_MSG_SECRET",
        )
    })?;
    serde_json::from_slice(&plain).map_err(|_| {
        AppError::bad_request("INVALID_WEBHOOK_BODY", "the decrypted message is not JSON")
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
            AppError::bad_request(
                "INVALID_WEBHOOK_BODY",
                "the message has no msgId or eventId",
            )
        })?;
    let open_id = text("openId");
    let holders = shop::Entity::find()
        .filter(shop::Column::OpenId.eq(&open_id))
        .filter(shop::Column::Status.ne(crate::shops::ShopStatus::Revoked.as_str()))
        .all(&kernel.db)
        .await?;
    if holders.is_empty() {
        return Ok(Stored::Unowned);
    }
    let heartbeat = message["test"].as_bool() == Some(true);
    let dispatch = if heartbeat { "skipped" } else { "pending" };
    let received_at = chrono::Utc::now();
    let mut new = Vec::new();
    for holder in holders {
        let row = event::ActiveModel {
            tenant_id: Set(holder.tenant_id),
            shop_id: Set(Some(holder.id)),
            message_id: Set(message_id.clone()),
            event: Set(text("event")),
            open_id: Set(open_id.clone()),
            payload: Set(message.clone()),
            received_at: Set(received_at),
            dispatch_status: Set(dispatch.into()),
            attempts: Set(0),
            next_attempt_at: Set(None),
            last_error: Set(None),
            ..Default::default()
        };
        let inserted = event::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([event::Column::MessageId, event::Column::ShopId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&kernel.db)
            .await?;
        if inserted == 0 {
            continue;
        }
        if let Some(saved) = event::Entity::find()
            .filter(event::Column::MessageId.eq(&message_id))
            .filter(event::Column::ShopId.eq(holder.id))
            .one(&kernel.db)
            .await?
        {
            new.push(saved);
        }
    }
    Ok(if new.is_empty() {
        Stored::Duplicate
    } else {
        Stored::New(new)
    })
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
        assert!(verify(&c, Some(good), Some("1700000000"), body, 1_700_000_100).is_ok());
        assert!(verify(
            &c,
            Some(&good.to_ascii_uppercase()),
            Some("1700000000"),
            body,
            1_700_000_100
        )
        .is_ok());
        assert_eq!(
            verify(&c, Some(good), Some("1700000000"), body, 1_700_000_400)
                .unwrap_err()
                .code,
            "WEBHOOK_TIMESTAMP_OUT_OF_WINDOW"
        );
        assert_eq!(
            verify(
                &c,
                Some(good),
                Some("1700000000"),
                br#"{"msgId":"m2"}"#,
                1_700_000_100
            )
            .unwrap_err()
            .code,
            "INVALID_WEBHOOK_SIGNATURE"
        );
        assert_eq!(
            verify(&c, None, Some("1700000000"), body, 1_700_000_100)
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
