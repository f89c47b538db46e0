//! The request signature: system parameters sorted by key, joined raw as `k=v&…`, the
//! sign secret appended; MD5 (lower-case hex) or HMAC-SHA256 keyed by the sign secret
//! (standard Base64 with padding) over that whole string.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignMethod {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "HMAC_SHA256")]
    HmacSha256,
}

impl SignMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignMethod::Md5 => "MD5",
            SignMethod::HmacSha256 => "HMAC_SHA256",
        }
    }
}

/// The string that is signed: every pair but `sign`, sorted by key (code points),
/// values raw, then `&signSecret=…`.
pub fn sign_string(pairs: &[(String, String)], sign_secret: &str) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "sign").collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let size: usize = sorted.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut s = String::with_capacity(size + 12 + sign_secret.len());
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s.push_str("&signSecret=");
    s.push_str(sign_secret);
    s
}

pub fn sign(method: SignMethod, text: &str, sign_secret: &str) -> String {
    match method {
        SignMethod::Md5 => hex::encode(Md5::digest(text.as_bytes())),
        SignMethod::HmacSha256 => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(sign_secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(text.as_bytes());
            B64.encode(mac.finalize().into_bytes())
        }
    }
}
