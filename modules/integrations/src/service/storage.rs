//! Objects of a tenant, under `tenants/<id>/` in whichever store takes them: writes go
//! to the highest-priority store that is up (seed 002's storage fallback: the next
//! provider), reads look in every store in order, deletes reach every store.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{AppError, AppResult};

use crate::config::Capability;
use crate::error;
use crate::manager::{Failure, Manager, Slot};
use crate::providers::{PresignMethod, ProviderError, StoredObject};

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
            "1 to 512 characters, `/`-separated, no empty, `.` or `..` parts",
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
        .map_err(|f| error::failure("STORAGE_UNAVAILABLE", "storage", f))?;
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
            "STORAGE_UNAVAILABLE",
            "storage",
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
            "STORAGE_UNAVAILABLE",
            "storage",
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
            "STORAGE_UNAVAILABLE",
            "storage",
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
            let open =
                |s: &Slot| s.health.breaker.state() == shopops_kernel::outside::CircuitState::Open;
            candidates
                .iter()
                .find(|s| !open(s))
                .or(candidates.first())
                .cloned()
        }
    }
    .ok_or_else(|| error::failure("STORAGE_UNAVAILABLE", "storage", Failure::NoProvider))?;
    let url = slot
        .storage()
        .ok_or_else(|| AppError::internal("not a storage provider"))?
        .presign(key, method, expires)
        .map_err(|e| error::provider_error(&slot.config.name, e))?;
    Ok((slot.config.name.clone(), url))
}
