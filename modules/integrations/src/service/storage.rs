//! Objects of a tenant, under `tenants/<id>/` in whichever store takes them: writes go
//! to the highest-priority store that is up (when a store is down, the next one),
//! reads look in every store in order, deletes reach every store. And the local
//! store's presigned URLs, checked here when they come back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::outside::CircuitState;
use shopops_kernel::{tr, AppError, AppResult};

use crate::config::Capability;
use crate::error::{self, Code};
use crate::manager::{Failure, Manager, Slot};
use crate::providers::local::url_signature;
use crate::providers::{PresignMethod, ProviderError, StorageProvider, StoredObject};

/// The longest a presigned URL is valid: 7 days, as long as S3 allows.
const MAX_PRESIGN_SECS: u64 = 7 * 86_400;
/// A presigned URL's validity when the caller does not say.
const DEFAULT_PRESIGN_SECS: u64 = 900;

/// The key inside the stores: the tenant's prefix and the caller's key.
pub fn object_key(tenant: i64, key: &str) -> AppResult<String> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && !key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        && !key.ends_with(".meta")
        && !key.chars().any(|c| c.is_control() || c == '\\');
    if !ok {
        let mut errors = FieldErrors::new();
        errors.add(
            "key",
            tr!(
                "应为 1 到 512 个字符，以 `/` 分隔，不含空段、`.` 或 `..`",
                "1 to 512 characters, `/`-separated, no empty, `.` or `..` parts"
            ),
        );
        return Err(AppError::validation(errors));
    }
    Ok(format!("tenants/{tenant}/{key}"))
}

fn not_storage() -> ProviderError {
    ProviderError::Unavailable("not a storage provider".into())
}

/// Stores the object; the store that took it.
pub async fn put(
    manager: &Manager,
    key: &str,
    bytes: Bytes,
    content_type: &str,
) -> AppResult<String> {
    let (slot, ()) = manager
        .failover(manager.candidates(Capability::Storage), |slot| {
            let bytes = bytes.clone();
            async move {
                slot.storage()
                    .ok_or_else(not_storage)?
                    .put(key, bytes, content_type)
                    .await
            }
        })
        .await
        .map_err(|f| error::failure(Code::StorageUnavailable, f))?;
    Ok(slot.config.name)
}

/// The object from the first store that has it.
pub async fn get(manager: &Manager, key: &str) -> AppResult<(String, StoredObject)> {
    find(manager, |slot| async move {
        slot.storage().ok_or_else(not_storage)?.get(key).await
    })
    .await
}

/// Asks every store in order with `look`; the first answer found. Not found anywhere
/// it could look while a store was unreachable is 503, not 404: it may be there.
async fn find<T, Fut>(manager: &Manager, look: impl Fn(Slot) -> Fut) -> AppResult<(String, T)>
where
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    let mut unavailable = Vec::new();
    for slot in manager.candidates(Capability::Storage) {
        match manager.attempt(&slot, &look).await {
            Ok(Some(found)) => return Ok((slot.config.name, found)),
            Ok(None) => {}
            Err(e) => unavailable.push((slot.config.name.clone(), e.to_string())),
        }
    }
    if unavailable.is_empty() {
        Err(AppError::not_found("object"))
    } else {
        Err(error::failure(
            Code::StorageUnavailable,
            Failure::AllUnavailable { tried: unavailable },
        ))
    }
}

/// Deletes the object from every store (it may have been written to any).
pub async fn delete(manager: &Manager, key: &str) -> AppResult<()> {
    let mut failed = Vec::new();
    let candidates = manager.candidates(Capability::Storage);
    if candidates.is_empty() {
        return Err(error::failure(
            Code::StorageUnavailable,
            Failure::NoProvider,
        ));
    }
    for slot in candidates {
        let r = manager
            .attempt(&slot, |s| async move {
                s.storage().ok_or_else(not_storage)?.delete(key).await
            })
            .await;
        if let Err(e) = r {
            failed.push((slot.config.name.clone(), e.to_string()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(error::failure(
            Code::StorageUnavailable,
            Failure::AllUnavailable { tried: failed },
        ))
    }
}

/// A URL to read or write the object directly: a read at the first store that has the
/// object, a write at the first store whose circuit is closed (where `put` would go).
pub async fn presign(
    manager: &Manager,
    key: &str,
    method: PresignMethod,
    expires: Duration,
) -> AppResult<(String, String)> {
    let slot = match method {
        PresignMethod::Get => {
            let (name, ()) = find(manager, |slot| async move {
                let here = slot.storage().ok_or_else(not_storage)?.exists(key).await?;
                Ok(here.then_some(()))
            })
            .await?;
            manager
                .candidates(Capability::Storage)
                .into_iter()
                .find(|s| s.config.name == name)
        }
        PresignMethod::Put => {
            let candidates = manager.candidates(Capability::Storage);
            let open = |s: &Slot| s.health.breaker.state() == CircuitState::Open;
            candidates
                .iter()
                .find(|s| !open(s))
                .or(candidates.first())
                .cloned()
        }
    }
    .ok_or_else(|| error::failure(Code::StorageUnavailable, Failure::NoProvider))?;
    let url = slot
        .storage()
        .ok_or_else(|| AppError::internal("not a storage provider"))?
        .presign(key, method, expires)
        .map_err(|e| error::provider_error(&slot.config.name, e))?;
    Ok((slot.config.name.clone(), url))
}

/// How long a presigned URL is to be valid (`expires_secs`: 1 s to 7 days, default 900).
pub fn presign_expiry(expires_secs: Option<u64>) -> AppResult<Duration> {
    let secs = expires_secs.unwrap_or(DEFAULT_PRESIGN_SECS);
    if !(1..=MAX_PRESIGN_SECS).contains(&secs) {
        let mut errors = FieldErrors::new();
        errors.add(
            "expires_secs",
            tr!("应为 1 到 {MAX_PRESIGN_SECS}", "1 to {MAX_PRESIGN_SECS}"),
        );
        return Err(AppError::validation(errors));
    }
    Ok(Duration::from_secs(secs))
}

/// A local-store URL as it came back: what it was signed for, and its signature.
pub struct SignedUrl<'a> {
    /// The method it was signed for.
    pub method: &'a str,
    /// The object's key inside the stores.
    pub key: &'a str,
    /// Unix seconds.
    pub expires: i64,
    pub signature: &'a str,
}

/// The local store (its name and adapter), if `url` is valid for a `method` request
/// now: signed with this server's key for that method, key and expiry, not expired.
fn local_store_for(
    manager: &Manager,
    url_key: &[u8],
    url: &SignedUrl<'_>,
    method: PresignMethod,
) -> AppResult<(String, Arc<dyn StorageProvider>)> {
    let expected = url_signature(url_key, url.method, url.key, url.expires);
    let fresh = url.expires >= chrono::Utc::now().timestamp();
    let same: bool =
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), url.signature.as_bytes()).into();
    if !fresh || !same || url.method != method.as_str() {
        return Err(Code::InvalidSignedUrl.err());
    }
    manager
        .candidates(Capability::Storage)
        .into_iter()
        .filter(|s| s.config.kind == "local")
        .find_map(|s| Some((s.config.name.clone(), s.storage()?.clone())))
        .ok_or_else(|| Code::InvalidSignedUrl.err())
}

/// A write through a local-store presigned URL.
pub async fn signed_put(
    manager: &Manager,
    url_key: &[u8],
    url: &SignedUrl<'_>,
    bytes: Bytes,
    content_type: &str,
) -> AppResult<()> {
    let (name, store) = local_store_for(manager, url_key, url, PresignMethod::Put)?;
    store
        .put(url.key, bytes, content_type)
        .await
        .map_err(|e| error::provider_error(&name, e))
}

/// A read through a local-store presigned URL.
pub async fn signed_get(
    manager: &Manager,
    url_key: &[u8],
    url: &SignedUrl<'_>,
) -> AppResult<StoredObject> {
    let (name, store) = local_store_for(manager, url_key, url, PresignMethod::Get)?;
    store
        .get(url.key)
        .await
        .map_err(|e| error::provider_error(&name, e))?
        .ok_or_else(|| AppError::not_found("object"))
}
