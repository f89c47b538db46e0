//! The module's jobs: KB imports, tombstone purge, routing messages a crash left
//! unrouted, and the daily statistics.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use shopops_kernel::audit::Actor;
use shopops_kernel::{Job, Kernel};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use shopops_kernel::http::RequestContext;

use super::states::MessageStatus;
use super::{imports, routing, settings, stats, Services};
use crate::entities::{message, shop};
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
    .one_leader()
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
    .one_leader()
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
                    let shop = shop::Entity::find_by_id(m.shop_id)
                        .one(&kernel.db)
                        .await
                        .map_err(|e| e.to_string())?;
                    // A deleted shop takes its messages with it: none is left without one.
                    let Some(shop) = shop else { continue };
                    if let Err(e) = routing::route(&kernel, &services, &ctx, &shop, m).await {
                        tracing::warn!(message = id, error = %e, "message not routed; tried again later");
                    }
                }
                Ok(())
            }
        },
    )
    .one_leader()
}

/// Every hour: the statistics of every day that changed since the previous run, in
/// each tenant's time zone: today and yesterday of every tenant with messages, and the
/// days of older messages reviewed or sent since (a late review counts on the day the
/// message arrived). Recomputing replaces, so re-runs are harmless.
pub fn stats_job(services: Arc<Services>) -> Job {
    const EVERY: Duration = Duration::from_secs(3600);
    Job::new("cs_statistics_daily", EVERY, move |kernel: Kernel| {
        let services = services.clone();
        async move {
            let now = chrono::Utc::now();
            // Two periods back, so a run that was late or skipped misses nothing.
            let changed_since = now - chrono::Duration::seconds(2 * EVERY.as_secs() as i64);
            let mut days: std::collections::BTreeMap<i64, std::collections::BTreeSet<NaiveDate>> =
                Default::default();
            let recent = stats::active_tenants(&kernel.db, now - chrono::Duration::days(2))
                .await
                .map_err(|e| e.to_string())?;
            let changed = stats::changed_messages(&kernel.db, changed_since)
                .await
                .map_err(|e| e.to_string())?;
            let mut zones = std::collections::HashMap::new();
            for tenant in recent.iter().chain(changed.iter().map(|(t, _)| t)) {
                if !zones.contains_key(tenant) {
                    let tz = settings::get(&kernel.db, *tenant, &services.config.time_zone)
                        .await
                        .map_err(|e| e.to_string())?
                        .tz();
                    zones.insert(*tenant, tz);
                }
            }
            for tenant in recent {
                let today = now.with_timezone(&zones[&tenant]).date_naive();
                let entry = days.entry(tenant).or_default();
                entry.insert(today);
                entry.insert(today.pred_opt().unwrap_or(today));
            }
            for (tenant, received_at) in changed {
                let day = received_at.with_timezone(&zones[&tenant]).date_naive();
                days.entry(tenant).or_default().insert(day);
            }
            for (tenant, tenant_days) in days {
                for day in tenant_days {
                    stats::compute(&kernel.db, tenant, day, zones[&tenant])
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
    })
    .one_leader()
}
