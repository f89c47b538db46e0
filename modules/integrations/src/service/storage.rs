//! Objects of a tenant, under `tenants/<id>/` in whichever store takes them: writes go
//! to the highest-priority store that is up (seed 002's storage fallback: the next
//! provider), reads look in every store in order, deletes reach every store.

use std::time::Duration;

use bytes::Bytes;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{AppError, AppResult};

use crate::config::Capability;
use crate::error;
use crate::manager::{Failure, Manager};
use crate::providers::{PresignMethod, ProviderError, StoredObject};

/// The key inside the stores: the tenant's prefix and the caller's key.
pub fn object_key(tenant: i64, key: &str) -> AppResult<String> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && !key.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && !key.ends_with(".meta")
        && !key.chars().any(|c| c.is_control() || c == '\\');
    if !ok {
        let mut errors = FieldErrors::new();
        errors.add("key", "1 to 512 characters, `/`-separated, no empty, `.` or `..` parts");
        return Err(AppError::validation(errors));
    }
    Ok(format!("tenants/{tenant}/{key}"))
}

fn not_storage() -> ProviderError {
    ProviderError::Unavailable("not a storage provider".into())
}

/// Stores the object; the store that took it.
pub async fn put(manager: &Manager, key: &str, bytes: Bytes, content_type: &str) -> AppResult<String> {
    let (slot, ()) = manager
        .failover(manager.candidates(Capability::Storage), |slot| {
            let bytes = bytes.clone();
            async move { slot.storage().ok_or_else(not_storage)?.put(key, bytes, content_type).await }
        })
        .await
        .map_err(|f| error::failure("STORAGE_UNAVAILABLE", "storage", f))?;
    Ok(slot.config.name)
}

/// The object from the first store that has it.
pub async fn get(manager: &Manager, key: &str) -> AppResult<(String, StoredObject)> {
    let mut unavailable = Vec::new();
    for slot in manager.candidates(Capability::Storage) {
        let found = manager
            .attempt(&slot, |s| async move { s.storage().ok_or_else(not_storage)?.get(key).await })
            .await;
        match found {
            Ok(Some(object)) => return Ok((slot.config.name, object)),
            Ok(None) => {}
            Err(e) => unavailable.push((slot.config.name.clone(), e.to_string())),
        }
    }
    if unavailable.is_empty() {
        Err(AppError::not_found("object"))
    } else {
        // Not found where we could look; it may be where we could not.
        Err(error::failure("STORAGE_UNAVAILABLE", "storage", Failure::AllUnavailable { tried: unavailable }))
    }
}

/// Deletes the object from every store (it may have been written to any).
pub async fn delete(manager: &Manager, key: &str) -> AppResult<()> {
    let mut failed = Vec::new();
    let candidates = manager.candidates(Capability::Storage);
    if candidates.is_empty() {
        return Err(error::failure("STORAGE_UNAVAILABLE", "storage", Failure::NoProvider));
    }
    for slot in candidates {
        let r = manager
            .attempt(&slot, |s| async move { s.storage().ok_or_else(not_storage)?.delete(key).await })
            .await;
        if let Err(e) = r {
            failed.push((slot.config.name.clone(), e.to_string()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(error::failure("STORAGE_UNAVAILABLE", "storage", Failure::AllUnavailable { tried: failed }))
    }
}

/// A URL to read or write the object directly at the first store whose circuit is
/// closed.
pub fn presign(manager: &Manager, key: &str, method: PresignMethod, expires: Duration) -> AppResult<(String, String)> {
    let candidates = manager.candidates(Capability::Storage);
    let slot = candidates
        .iter()
        .find(|s| s.health.breaker.state() != shopops_kernel::outside::CircuitState::Open)
        .or(candidates.first())
        .ok_or_else(|| error::failure("STORAGE_UNAVAILABLE", "storage", Failure::NoProvider))?;
    let url = slot
        .storage()
        .ok_or_else(|| AppError::internal("not a storage provider"))?
        .presign(key, method, expires)
        .map_err(|e| error::provider_error(&slot.config.name, e))?;
    Ok((slot.config.name.clone(), url))
}
