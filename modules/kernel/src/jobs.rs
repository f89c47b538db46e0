//! Scheduled jobs: the loops a [`Job`] runs in, and the kernel's own jobs. Each loop
//! stops at a safe point (between runs) when the process shuts down, and counts its
//! runs in `job_runs_total`. A cluster-wide job runs in [`led`]: only while this
//! process holds its lease (docs/operations.md "Jobs").

use std::future::Future;
use std::time::Duration;

use crate::context::Kernel;
use crate::idempotency;
use crate::lease::Lease;
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
        counted(&kernel, name, &span, result);
    }
    tracing::info!(job = name, "job stopped");
}

/// Counts a finished run in `job_runs_total` and logs its failure in its span.
fn counted(kernel: &Kernel, name: &str, span: &tracing::Span, result: Result<(), String>) {
    kernel.metrics.job_run(name, result.is_ok());
    if let Err(e) = result {
        span.in_scope(|| tracing::warn!(error = %e, "job run failed"));
    }
}

/// Runs `job` every `period` while this process leads it: every third of the lease
/// each process renews its lease or tries to take the free one, so a leader that
/// dies (its lease lapses) or stops (it gives the lease back) is replaced within
/// `job_lease_secs`. A run in progress is never interrupted, even when the lease is
/// lost meanwhile: jobs are written to be safe to run twice (claims in the database),
/// the lease keeps them from running everywhere at once.
pub async fn led<F, Fut>(kernel: Kernel, name: &'static str, period: Duration, mut job: F)
where
    F: FnMut(Kernel) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let ttl = Duration::from_secs(kernel.config.job_lease_secs);
    let lease_name = format!("job:{name}");
    let mut lease: Option<Lease> = None;
    let mut check = tokio::time::interval(ttl / 3);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = kernel.lifecycle.stopped() => break,
            _ = check.tick() => {
                lease = keep_or_take(&kernel, lease, &lease_name, ttl).await;
                continue;
            }
            _ = tick.tick(), if lease.is_some() => {}
        }
        let span = tracing::info_span!("job", job = name);
        let run = tracing::Instrument::instrument(job(kernel.clone()), span.clone());
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = check.tick() => {
                    lease = keep_or_take(&kernel, lease, &lease_name, ttl).await;
                }
            }
        };
        counted(&kernel, name, &span, result);
    }
    if let Some(lease) = lease {
        // Handed back so a standby takes over at once instead of after the ttl.
        if let Err(e) = kernel.leases.release(&lease).await {
            tracing::warn!(job = name, error = %e, "job lease not released; it lapses");
        }
    }
    tracing::info!(job = name, "job stopped");
}

/// Renews `lease`, or tries to take the free one; `None` while another leads (or the
/// lease store cannot be reached: without it leadership cannot be proven).
async fn keep_or_take(
    kernel: &Kernel,
    lease: Option<Lease>,
    name: &str,
    ttl: Duration,
) -> Option<Lease> {
    if let Some(held) = lease {
        match kernel.leases.renew(&held).await {
            Ok(true) => return Some(held),
            Ok(false) => tracing::warn!(lease = name, "job leadership lost"),
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "job lease not renewed; standing down");
                return None;
            }
        }
    }
    match kernel.leases.try_acquire(name, ttl).await {
        Ok(Some(taken)) => {
            tracing::info!(lease = name, fence = taken.fence, "leading job");
            Some(taken)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(lease = name, error = %e, "job lease unavailable");
            None
        }
    }
}

/// The kernel's own jobs: RBAC reload (`rbac_reload_secs`) and alert evaluation
/// (`alert_eval_secs`) in every process (each judges its own traffic); by one leader,
/// the idempotency-key purge (hourly) and the audit linker (every 250 ms).
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
        )
        .one_leader(),
        Job::new(
            "audit_link",
            crate::audit::chain::LINK_INTERVAL,
            |k: Kernel| async move {
                crate::audit::link_pending(&k.db)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        )
        .one_leader(),
        Job::new(
            "alert_evaluation",
            Duration::from_secs(config.alert_eval_secs),
            |k: Kernel| async move { k.alerting.evaluate(&k).await.map(|_| ()) },
        ),
    ]
}
