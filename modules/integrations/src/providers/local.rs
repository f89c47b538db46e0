//! Files on the local disk (the embedded default): `root/<key>`, the content type in a
//! `<key>.meta` file beside it, written atomically (temporary file, then rename).
//! Presigned URLs point at this server (`/api/v1/integrations/storage/signed/…`),
//! signed with a key kept in the database, valid until their expiry.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use super::{PresignMethod, ProviderError, StorageProvider, StoredObject};
use crate::client::digest::hmac_sha256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub root: String,
}

pub struct Local {
    root: PathBuf,
    url_key: Vec<u8>,
    public_base_url: String,
}

/// A key as a relative path inside the root: no `..`, no absolute parts.
pub fn safe_path(key: &str) -> Option<PathBuf> {
    let path = Path::new(key);
    let ok = !key.is_empty()
        && !key.ends_with(".meta")
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| path.to_path_buf())
}

/// The signature of a local presigned URL.
pub fn url_signature(url_key: &[u8], method: &str, key: &str, expires: i64) -> String {
    hex::encode(hmac_sha256(
        url_key,
        format!("{method}\n{key}\n{expires}").as_bytes(),
    ))
}

fn io(e: std::io::Error) -> ProviderError {
    ProviderError::Unavailable(format!("local store: {e}"))
}

impl Local {
    pub fn new(settings: Settings, url_key: &[u8], public_base_url: &str) -> Result<Self, String> {
        let root = PathBuf::from(&settings.root);
        std::fs::create_dir_all(&root).map_err(|e| format!("root `{}`: {e}", settings.root))?;
        Ok(Self {
            root,
            url_key: url_key.to_vec(),
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
        })
    }

    fn file(&self, key: &str) -> Result<PathBuf, ProviderError> {
        safe_path(key).map(|p| self.root.join(p)).ok_or_else(|| {
            ProviderError::rejected(
                "INVALID_KEY",
                "the key must be a relative path without `..`",
            )
        })
    }
}

#[async_trait::async_trait]
impl StorageProvider for Local {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), ProviderError> {
        let file = self.file(key)?;
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let tmp = file.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, &bytes).await.map_err(io)?;
        tokio::fs::write(meta(&file), content_type)
            .await
            .map_err(io)?;
        tokio::fs::rename(&tmp, &file).await.map_err(io)
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ProviderError> {
        let file = self.file(key)?;
        match tokio::fs::read(&file).await {
            Ok(bytes) => {
                let content_type = tokio::fs::read_to_string(meta(&file))
                    .await
                    .unwrap_or_else(|_| "application/octet-stream".into());
                Ok(Some(StoredObject {
                    bytes: bytes.into(),
                    content_type,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, ProviderError> {
        tokio::fs::try_exists(self.file(key)?).await.map_err(io)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let file = self.file(key)?;
        for path in [meta(&file), file] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    fn presign(
        &self,
        key: &str,
        method: PresignMethod,
        expires: Duration,
    ) -> Result<String, ProviderError> {
        self.file(key)?;
        let verb = method.as_str();
        let until = chrono::Utc::now().timestamp() + expires.as_secs() as i64;
        let signature = url_signature(&self.url_key, verb, key, until);
        Ok(format!(
            "{}/api/v1/integrations/storage/signed/{}?method={verb}&expires={until}&signature={signature}",
            self.public_base_url,
            shopops_kernel::encoding::rfc3986_path(key)
        ))
    }

    async fn health(&self) -> Result<(), String> {
        let probe = self
            .root
            .join(format!(".health-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&probe, b"ok")
            .await
            .map_err(|e| format!("{} is not writable: {e}", self.root.display()))?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }
}

fn meta(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_root() {
        assert!(safe_path("tenants/1/a.png").is_some());
        assert!(safe_path("../etc/passwd").is_none());
        assert!(safe_path("/etc/passwd").is_none());
        assert!(safe_path("a/../../b").is_none());
        assert!(safe_path("").is_none());
        assert!(
            safe_path("x.meta").is_none(),
            "the sidecar files are not objects"
        );
    }
}
