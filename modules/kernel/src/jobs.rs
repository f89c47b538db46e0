//! Background jobs the kernel offers; the server schedules them. Each loop stops at a
//! safe point (between runs) when the process shuts down, and counts its runs in
//! `job_runs_total`.

use std::future::Future;
use std::time::Duration;

use crate::context::Kernel;
use crate::idempotency;

/// Runs `job` every `period` until shutdown; a run in progress is never interrupted.
pub async fn every<F, Fut>(kernel: Kernel, name: &'static str, period: Duration, mut job: F)
where
    F: FnMut(Kernel) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = kernel.lifecycle.stopped() => break,
            _ = tick.tick() => {}
        }
        let span = tracing::info_span!("job", job = name);
        let result = tracing::Instrument::instrument(job(kernel.clone()), span.clone()).await;
        kernel.metrics.job_run(name, result.is_ok());
        if let Err(e) = result {
            span.in_scope(|| tracing::warn!(error = %e, "job run failed"));
        }
    }
    tracing::info!(job = name, "job stopped");
}

/// Reloads RBAC policies when another replica changed them.
pub async fn rbac_reload(kernel: Kernel) {
    let period = Duration::from_secs(kernel.config.rbac_reload_secs);
    every(kernel, "rbac_reload", period, |k| async move {
        match k.rbac.reload_if_changed(&k.db).await {
            Ok(true) => {
                tracing::info!("RBAC policies reloaded");
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

/// Deletes idempotency keys past their retention, hourly.
pub async fn idempotency_purge(kernel: Kernel) {
    every(
        kernel,
        "idempotency_purge",
        Duration::from_secs(3600),
        |k| async move {
            let deleted = idempotency::purge_expired(&k.db)
                .await
                .map_err(|e| e.message)?;
            if deleted > 0 {
                tracing::info!(deleted, "purged expired idempotency keys");
            }
            Ok(())
        },
    )
    .await
}

/// Evaluates the alert rules every `alert_eval_secs`.
pub async fn alert_evaluation(kernel: Kernel) {
    let period = Duration::from_secs(kernel.config.alert_eval_secs);
    every(kernel, "alert_evaluation", period, |k| async move {
        k.alerting.evaluate(&k).await.map(|_| ())
    })
    .await
}
