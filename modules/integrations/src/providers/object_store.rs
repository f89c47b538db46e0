//! What COS and S3 share: both speak the same object REST API (PUT/GET/HEAD/DELETE of
//! a key, `<Error><Code>…` bodies) and differ only in how a request is signed. An
//! adapter says how to send a signed request and to presign a URL; every
//! [`ObjectStore`] is then a [`StorageProvider`] that reads the answers here.

use std::time::Duration;

use bytes::Bytes;

use super::{Answer, PresignMethod, ProviderError, StorageProvider, StoredObject};

/// An object store by how it signs.
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync {
    /// Sends one signed request for a key (with the body and its content type for PUT).
    async fn call(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Answer, ProviderError>;
    fn presign(
        &self,
        key: &str,
        method: PresignMethod,
        expires: Duration,
    ) -> Result<String, ProviderError>;
    async fn health(&self) -> Result<(), String>;
}

#[async_trait::async_trait]
impl<T: ObjectStore> StorageProvider for T {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), ProviderError> {
        put(self, key, bytes, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ProviderError> {
        get(self, key).await
    }

    async fn exists(&self, key: &str) -> Result<bool, ProviderError> {
        exists(self, key).await
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        delete(self, key).await
    }

    fn presign(
        &self,
        key: &str,
        method: PresignMethod,
        expires: Duration,
    ) -> Result<String, ProviderError> {
        ObjectStore::presign(self, key, method, expires)
    }

    async fn health(&self) -> Result<(), String> {
        ObjectStore::health(self).await
    }
}

/// An error body's `<Code>`.
pub fn error_code(xml: &str) -> Option<&str> {
    let start = xml.find("<Code>")? + 6;
    let end = xml[start..].find("</Code>")? + start;
    Some(&xml[start..end])
}

/// Maps a non-2xx answer: our credentials or signature failing, a missing bucket and
/// the store's own faults are this store being unavailable (try the next); anything
/// else is the request refused.
pub fn error_of(answer: &Answer) -> ProviderError {
    let text = answer.text();
    let code = error_code(&text).unwrap_or("HTTP_ERROR").to_string();
    match (answer.status, code.as_str()) {
        (s, _) if s >= 500 || s == 429 => ProviderError::Unavailable(format!("HTTP {s} {code}")),
        (
            _,
            "AccessDenied"
            | "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "RequestTimeTooSkewed"
            | "NoSuchBucket",
        ) => ProviderError::Unavailable(format!("HTTP {} {code}", answer.status)),
        (s, _) => ProviderError::rejected(code, format!("HTTP {s}")),
    }
}

async fn put(
    store: &dyn ObjectStore,
    key: &str,
    bytes: Bytes,
    content_type: &str,
) -> Result<(), ProviderError> {
    let answer = store
        .call(reqwest::Method::PUT, key, Some((bytes, content_type)))
        .await?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(error_of(&answer))
    }
}

async fn get(store: &dyn ObjectStore, key: &str) -> Result<Option<StoredObject>, ProviderError> {
    let answer = store.call(reqwest::Method::GET, key, None).await?;
    match answer.status {
        200 => Ok(Some(StoredObject {
            content_type: answer
                .header("content-type")
                .unwrap_or("application/octet-stream")
                .to_string(),
            bytes: answer.body,
        })),
        404 => Ok(None),
        _ => Err(error_of(&answer)),
    }
}

async fn exists(store: &dyn ObjectStore, key: &str) -> Result<bool, ProviderError> {
    let answer = store.call(reqwest::Method::HEAD, key, None).await?;
    match answer.status {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(error_of(&answer)),
    }
}

/// Deleting what is not there is done too.
async fn delete(store: &dyn ObjectStore, key: &str) -> Result<(), ProviderError> {
    let answer = store.call(reqwest::Method::DELETE, key, None).await?;
    match answer.status {
        200..=299 | 404 => Ok(()),
        _ => Err(error_of(&answer)),
    }
}
