//! Background jobs the kernel offers; the server schedules them.

use std::time::Duration;

use crate::context::Kernel;
use crate::idempotency;

/// Reloads RBAC policies when another replica changed them.
pub async fn rbac_reload_loop(kernel: Kernel) {
    let mut tick = tokio::time::interval(Duration::from_secs(kernel.config.rbac_reload_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        match kernel.rbac.reload_if_changed(&kernel.db).await {
            Ok(true) => tracing::info!(job = "rbac_reload", "RBAC policies reloaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(job = "rbac_reload", error = %e, "RBAC reload failed"),
        }
    }
}

/// Deletes idempotency keys past their retention, hourly.
pub async fn idempotency_purge_loop(kernel: Kernel) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match idempotency::purge_expired(&kernel.db).await {
            Ok(n) if n > 0 => tracing::info!(job = "idempotency_purge", deleted = n, "purged keys"),
            Ok(_) => {}
            Err(e) => tracing::warn!(job = "idempotency_purge", error = %e.message, "purge failed"),
        }
    }
}
