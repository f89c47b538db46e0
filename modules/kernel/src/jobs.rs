//! Scheduled jobs: the loop every [`Job`] runs in, and the kernel's own jobs. Each loop
//! stops at a safe point (between runs) when the process shuts down, and counts its
//! runs in `job_runs_total`.

use std::future::Future;
use std::time::Duration;

use crate::context::Kernel;
use crate::idempotency;
use crate::module::Job;

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

/// The kernel's own jobs: RBAC reload (`rbac_reload_secs`), idempotency-key purge
/// (hourly), alert evaluation (`alert_eval_secs`).
pub fn kernel_jobs(config: &crate::config::Config) -> Vec<Job> {
    vec![
        Job::new(
            "rbac_reload",
            Duration::from_secs(config.rbac_reload_secs),
            |k: Kernel| async move {
                match k.rbac.reload_if_changed(&k.db).await {
                    Ok(true) => {
                        tracing::info!("RBAC policies reloaded");
                        Ok(())
                    }
                    Ok(false) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            },
        ),
        Job::new(
            "idempotency_purge",
            Duration::from_secs(3600),
            |k: Kernel| async move {
                let deleted = idempotency::purge_expired(&k.db)
                    .await
                    .map_err(|e| e.to_string())?;
                if deleted > 0 {
                    tracing::info!(deleted, "purged expired idempotency keys");
                }
                Ok(())
            },
        ),
        Job::new(
            "alert_evaluation",
            Duration::from_secs(config.alert_eval_secs),
            |k: Kernel| async move { k.alerting.evaluate(&k).await.map(|_| ()) },
        ),
    ]
}
