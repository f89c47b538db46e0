//! Personal data at rest: AES-256-GCM with a key id in every value (so keys can
//! rotate: the first configured key encrypts, every configured key decrypts), and a
//! keyed hash (HMAC-SHA256, its own key) to find a record by its value without storing
//! the value.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::config::Config;
use crate::db;

pub struct PiiVault {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
    index_key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("personal-data keys: {0}")]
    Config(String),
    #[error("personal data cannot be decrypted: {0}")]
    Decrypt(String),
}

fn decode_key(id: &str, b64: &str) -> Result<Vec<u8>, PiiError> {
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| PiiError::Config(format!("key `{id}` is not base64")))?;
    if bytes.len() != 32 {
        return Err(PiiError::Config(format!(
            "key `{id}` must be 32 bytes, is {}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn random_key() -> String {
    B64.encode(Aes256Gcm::generate_key(OsRng))
}

impl PiiVault {
    /// From configuration, or keys generated once and kept in the database.
    pub async fn load(config: &Config, db: &DatabaseConnection) -> anyhow::Result<Self> {
        let keys = match config
            .pii_keys
            .as_ref()
            .map(|s| s.expose_secret().trim().to_string())
        {
            Some(k) if !k.is_empty() => k,
            _ => db::get_or_init_setting(db, "pii_keys", &format!("k1:{}", random_key())).await?,
        };
        let index = match config
            .pii_index_key
            .as_ref()
            .map(|s| s.expose_secret().trim().to_string())
        {
            Some(k) if !k.is_empty() => k,
            _ => db::get_or_init_setting(db, "pii_index_key", &random_key()).await?,
        };
        Ok(Self::from_parts(&keys, &index)?)
    }

    pub fn from_parts(keys: &str, index_key: &str) -> Result<Self, PiiError> {
        let mut parsed = HashMap::new();
        let mut active = None;
        for pair in keys.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = pair
                .split_once(':')
                .ok_or_else(|| PiiError::Config("each key is `id:base64`".into()))?;
            let key = decode_key(id, b64)?;
            parsed.insert(
                id.to_string(),
                Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
            );
            active.get_or_insert_with(|| id.to_string());
        }
        Ok(Self {
            active: active.ok_or_else(|| PiiError::Config("no key configured".into()))?,
            keys: parsed,
            index_key: decode_key("index", index_key)?,
        })
    }

    /// `keyid:base64(nonce ‖ ciphertext)`.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let cipher = &self.keys[&self.active];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and a fresh nonce does not fail.
        let sealed = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{}:{}", self.active, B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, PiiError> {
        let (id, b64) = stored
            .split_once(':')
            .ok_or_else(|| PiiError::Decrypt("no key id".into()))?;
        let cipher = self
            .keys
            .get(id)
            .ok_or_else(|| PiiError::Decrypt(format!("key `{id}` is not configured")))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| PiiError::Decrypt("not base64".into()))?;
        if raw.len() < 12 {
            return Err(PiiError::Decrypt("too short".into()));
        }
        let (nonce, sealed) = raw.split_at(12);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| PiiError::Decrypt("authentication failed".into()))?;
        String::from_utf8(plain).map_err(|_| PiiError::Decrypt("not UTF-8".into()))
    }

    /// The keyed hash of a normalised value (lower-cased, trimmed), hex.
    pub fn index(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key length");
        mac.update(value.trim().to_lowercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }
}

/// `a***@example.com`, `138****5678`, `+86138****5678`: enough to recognise, not enough
/// to use. A mainland number's `+86` stays outside the mask, so it does not eat the three
/// digits an operator recognises a number by.
pub fn mask(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    if let Some(national) = value.strip_prefix("+86") {
        return format!("+86{}", mask(national));
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "****".into();
    }
    let head: String = chars[..3.min(chars.len() - 4)].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        random_key()
    }

    #[test]
    fn round_trip_rotation_and_tamper_detection() {
        let (k1, k2, idx) = (key(), key(), key());
        let old = PiiVault::from_parts(&format!("k1:{k1}"), &idx).unwrap();
        let stored = old.encrypt("alice@example.com");
        assert!(stored.starts_with("k1:"));
        assert!(!stored.contains("alice"));
        assert_ne!(
            stored,
            old.encrypt("alice@example.com"),
            "fresh nonce each time"
        );

        let rotated = PiiVault::from_parts(&format!("k2:{k2},k1:{k1}"), &idx).unwrap();
        assert_eq!(rotated.decrypt(&stored).unwrap(), "alice@example.com");
        assert!(rotated.encrypt("x").starts_with("k2:"));
        assert_eq!(
            old.index("Alice@Example.com "),
            rotated.index("alice@example.com")
        );

        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(rotated.decrypt(&tampered).is_err());
        assert!(PiiVault::from_parts(&format!("k2:{k2}"), &idx)
            .unwrap()
            .decrypt(&stored)
            .is_err());
        assert!(PiiVault::from_parts("k1:short", &idx).is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask("alice@example.com"), "a***@example.com");
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("123"), "****");
        assert_eq!(mask("+8613812345678"), "+86138****5678");
        assert_eq!(mask("+85291234567"), "+85****4567");
    }
}
