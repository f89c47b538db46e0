//! RSA PKCS#1 v1.5 with SHA-256 (WeChat Pay `WECHATPAY2-SHA256-RSA2048`, Alipay `RSA2`),
//! on `ring`: constant-time private-key operations, deterministic signatures (so the
//! vectors' signatures are reproduced exactly).
//!
//! Keys come as the providers hand them out: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
//! (`BEGIN RSA PRIVATE KEY`) private keys; SPKI (`BEGIN PUBLIC KEY`), PKCS#1 public keys,
//! X.509 certificates (WeChat Pay platform certificates), or Alipay's bare Base64 SPKI.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{
    RsaKeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM key: {0}")]
    Pem(String),
    #[error("unsupported key ({0})")]
    Unsupported(String),
    #[error("the key is not a valid RSA key: {0}")]
    Invalid(String),
}

/// A merchant or app private key.
pub struct RsaSigner {
    key: RsaKeyPair,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaSigner(…)")
    }
}

impl RsaSigner {
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(text.trim()).map_err(|e| KeyError::Pem(e.to_string()))?;
        let key = match block.tag() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(block.contents()),
            other => return Err(KeyError::Unsupported(other.to_string())),
        }
        .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(Self { key })
    }

    /// Standard Base64 of the RSA-SHA256 signature of `message`.
    pub fn sign_b64(&self, message: &[u8]) -> String {
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        // Fails only when the buffer is too small, which it is not: PKCS#1 v1.5 needs
        // no randomness, and the modulus length is the signature length.
        if self
            .key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .is_err()
        {
            return String::new();
        }
        B64.encode(signature)
    }
}

/// A provider's public key (PKCS#1 `RSAPublicKey` DER, what `ring` verifies with).
#[derive(Clone, PartialEq, Eq)]
pub struct RsaVerifier {
    public_key: Vec<u8>,
}

impl std::fmt::Debug for RsaVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaVerifier({} bytes)", self.public_key.len())
    }
}

impl RsaVerifier {
    /// From a PEM public key or certificate, or Alipay's bare Base64 SPKI.
    pub fn from_pem_or_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if !text.starts_with("-----") {
            let der = B64
                .decode(text.split_whitespace().collect::<String>())
                .map_err(|e| KeyError::Pem(e.to_string()))?;
            return Self::from_spki_der(&der);
        }
        let block = pem::parse(text).map_err(|e| KeyError::Pem(e.to_string()))?;
        match block.tag() {
            "PUBLIC KEY" => Self::from_spki_der(block.contents()),
            "RSA PUBLIC KEY" => Ok(Self {
                public_key: block.contents().to_vec(),
            }),
            "CERTIFICATE" => Ok(Certificate::from_der(block.contents())?.verifier),
            other => Err(KeyError::Unsupported(other.to_string())),
        }
    }

    fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(Self {
            public_key: spki.subject_public_key.raw_bytes().to_vec(),
        })
    }

    /// Whether `signature_b64` is the RSA-SHA256 signature of `message`.
    pub fn verify_b64(&self, message: &[u8], signature_b64: &str) -> bool {
        let Ok(signature) = B64.decode(signature_b64.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(message, &signature)
            .is_ok()
    }
}

/// An X.509 certificate's serial (upper-case hex, as WeChat Pay names it) and key.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub serial_no: String,
    pub verifier: RsaVerifier,
}

impl Certificate {
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(text.trim()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if block.tag() != "CERTIFICATE" {
            return Err(KeyError::Unsupported(block.tag().to_string()));
        }
        Self::from_der(block.contents())
    }

    fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        use x509_cert::der::Decode;
        let cert =
            x509_cert::Certificate::from_der(der).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let serial = tbs.serial_number.as_bytes();
        // DER integers carry a leading zero when the high bit is set; the serial does not.
        let serial = match serial {
            [0, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        };
        Ok(Self {
            serial_no: hex::encode_upper(serial),
            verifier: RsaVerifier {
                public_key: tbs
                    .subject_public_key_info
                    .subject_public_key
                    .raw_bytes()
                    .to_vec(),
            },
        })
    }
}
