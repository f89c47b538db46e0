//! The module's jobs: KB imports, tombstone purge, routing messages a crash left
//! unrouted, and the daily statistics.

use std::sync::Arc;
use std::time::Duration;

use shopops_kernel::audit::Actor;
use shopops_kernel::{Job, Kernel};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use shopops_kernel::http::RequestContext;

use super::states::MessageStatus;
use super::{imports, routing, settings, stats, Services};
use crate::entities::message;
use crate::metrics::CsMetrics;

/// The import worker: every 2 s, the oldest import nobody works on, to its end.
pub fn import_job(metrics: Arc<CsMetrics>) -> Job {
    Job::new(
        "cs_kb_import",
        Duration::from_secs(2),
        move |kernel: Kernel| {
            let metrics = metrics.clone();
            async move {
                while let Some(import) = imports::claim(&kernel).await.map_err(|e| e.to_string())? {
                    let (id, by) = (import.id, import.created_by.clone());
                    let actor = Actor {
                        id: None,
                        name: format!("{by} (import {id})"),
                    };
                    let done = imports::run(&kernel, import, actor, &|_, _| {})
                        .await
                        .map_err(|e| e.to_string())?;
                    let rows = &metrics.import_rows;
                    rows.with_label_values(&["stored"])
                        .inc_by((done.total - done.failed) as u64);
                    rows.with_label_values(&["refused"])
                        .inc_by(done.failed as u64);
                    tracing::info!(
                        import = id,
                        rows = done.total,
                        failed = done.failed,
                        "knowledge-base import done"
                    );
                }
                Ok(())
            }
        },
    )
}

/// Deleted entries are kept a day (every index has caught up long before), then go.
pub fn purge_job() -> Job {
    Job::new(
        "cs_kb_purge",
        Duration::from_secs(3600),
        |kernel: Kernel| async move {
            let before = chrono::Utc::now() - chrono::Duration::days(1);
            crate::store::purge_tombstones(&kernel.db, before)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
}

/// Messages still `new` this long after they arrived were left by a server that
/// stopped while routing them (an LLM call takes at most its timeout): route them.
pub fn reroute_job(services: Arc<Services>) -> Job {
    Job::new(
        "cs_message_reroute",
        Duration::from_secs(30),
        move |kernel: Kernel| {
            let services = services.clone();
            async move {
                let stale = chrono::Utc::now()
                    - chrono::Duration::seconds(services.config.reroute_after_secs as i64);
                let left = message::Entity::find()
                    .filter(message::Column::Status.eq(MessageStatus::New))
                    .filter(message::Column::CreatedAt.lt(stale))
                    .order_by_asc(message::Column::Id)
                    .limit(100)
                    .all(&kernel.db)
                    .await
                    .map_err(|e| e.to_string())?;
                let ctx = RequestContext {
                    request_id: "cs-message-reroute".into(),
                    ip: None,
                    user_agent: None,
                };
                for m in left {
                    let id = m.id;
                    if let Err(e) = routing::route(&kernel, &services, &ctx, m).await {
                        tracing::warn!(message = id, error = %e, "message not routed; tried again later");
                    }
                }
                Ok(())
            }
        },
    )
}

/// Every hour: yesterday's and today's statistics of every tenant with messages in
/// them, in each tenant's time zone (recomputing replaces, so the last run of a day
/// after midnight is its final figure).
pub fn stats_job(services: Arc<Services>) -> Job {
    Job::new(
        "cs_statistics_daily",
        Duration::from_secs(3600),
        move |kernel: Kernel| {
            let services = services.clone();
            async move {
                let since = chrono::Utc::now() - chrono::Duration::days(2);
                let tenants = stats::active_tenants(&kernel.db, since)
                    .await
                    .map_err(|e| e.to_string())?;
                for tenant in tenants {
                    let tz = settings::get(&kernel.db, tenant, &services.config.time_zone)
                        .await
                        .map_err(|e| e.to_string())?
                        .tz();
                    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
                    for day in [today.pred_opt().unwrap_or(today), today] {
                        stats::compute(&kernel.db, tenant, day, tz)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            }
        },
    )
}
