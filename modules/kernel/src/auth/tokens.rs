//! Access tokens (JWT, HS256 only — `alg: none` and other algorithms are rejected),
//! opaque refresh and API tokens (random, stored as SHA-256 hashes).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix that marks an API token, so the extractor can tell it from a JWT at a glance.
pub const API_TOKEN_PREFIX: &str = "sko_";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Tenant id (0 = platform).
    pub tid: i64,
    pub usr: String,
    /// Session (refresh-token family) id; logout revokes it.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub typ: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl_secs: i64,
}

pub enum AccessError {
    Expired { expired_at: i64 },
    Invalid(String),
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl_secs: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl_secs,
        }
    }

    pub fn issue(&self, user_id: i64, tenant_id: i64, username: &str, sid: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            tid: tenant_id,
            usr: username.to_string(),
            sid: sid.to_string(),
            iat: now,
            exp: now + self.access_ttl_secs,
            typ: "access".into(),
        };
        // HS256 over serde-serialisable claims cannot fail.
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccessError> {
        match decode::<AccessClaims>(token, &self.decoding, &self.validation) {
            Ok(data) if data.claims.typ == "access" => Ok(data.claims),
            Ok(_) => Err(AccessError::Invalid("not an access token".into())),
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    // Read the expiry without trusting anything else: the signature was
                    // checked before expiry by jsonwebtoken.
                    let mut lax = self.validation.clone();
                    lax.validate_exp = false;
                    let expired_at = decode::<AccessClaims>(token, &self.decoding, &lax)
                        .map(|d| d.claims.exp)
                        .unwrap_or_default();
                    Err(AccessError::Expired { expired_at })
                }
                other => Err(AccessError::Invalid(format!("{other:?}"))),
            },
        }
    }
}

/// An access token verified once per request: the rate limiter, which runs first,
/// leaves it in the request's extensions for the principal extractor.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedAccess {
    pub token: String,
    pub claims: AccessClaims,
}

/// A new random secret token: 32 bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify() {
        let keys = TokenKeys::new(SECRET, 60);
        let token = keys.issue(7, 3, "alice", "sid-1");
        let claims = keys.verify(&token).ok().unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.tid, claims.sid.as_str()),
            ("7", 3, "sid-1")
        );
    }

    #[test]
    fn alg_none_tampering_and_other_keys_are_rejected() {
        let keys = TokenKeys::new(SECRET, 60);
        let token = keys.issue(7, 3, "alice", "sid-1");
        let parts: Vec<&str> = token.split('.').collect();

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let none_token = format!("{none_header}.{}.", parts[1]);
        assert!(matches!(
            keys.verify(&none_token),
            Err(AccessError::Invalid(_))
        ));

        let forged_claims = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
                .unwrap()
                .replace("\"tid\":3", "\"tid\":4"),
        );
        let tampered = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert!(matches!(
            keys.verify(&tampered),
            Err(AccessError::Invalid(_))
        ));

        let other = TokenKeys::new(b"another-secret-another-secret-xx", 60);
        assert!(matches!(other.verify(&token), Err(AccessError::Invalid(_))));
    }

    #[test]
    fn expired_tokens_report_their_expiry() {
        let keys = TokenKeys::new(SECRET, -10);
        let token = keys.issue(1, 0, "root", "s");
        match keys.verify(&token) {
            Err(AccessError::Expired { expired_at }) => {
                assert!(expired_at < chrono::Utc::now().timestamp())
            }
            _ => panic!("expected expiry"),
        }
    }
}
