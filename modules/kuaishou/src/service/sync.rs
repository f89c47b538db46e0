//! Order sync: orders updated in a time window, pulled page by page with the cursor API
//! (`open.order.cursor.list`, by update time), upserted into `kuaishou_orders` (+ items).
//! Each page is stored in one transaction; the checkpoint moves when a window is
//! finished, so a crash resumes at that window and re-runs change nothing (an older
//! copy of an order never overwrites a newer one).
//!
//! Pages come from [`calls::pages`] (typed answers, `cursor` until `"nomore"`).
//! The exact answer shape could not be checked against the platform from here; the
//! typed answer reads it tolerantly and the fake platform in the tests serves it.
//!
//! Runs: the [`job`] (every active shop every 5 minutes, four at a time),
//! `POST /shops/{id}/sync`, and `shopops kuaishou sync --shop ID [--since T]`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::TryStreamExt;
use serde::Serialize;
use shopops_kernel::{AppResult, Job, Kernel};
use utoipa::ToSchema;

use crate::entities::shop;
use crate::platform::Platform;
use crate::service::calls;
use crate::store::{self, across_tenants};
use crate::typed::orders::OrderCursorList;

const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Each run re-reads the last 5 minutes: orders updated while the previous run read.
const OVERLAP_MS: i64 = 5 * 60 * 1000;
const PAGE_SIZE: u32 = 100;
/// `queryType` 2: orders by update time.
const BY_UPDATE_TIME: i32 = 2;
/// A shop syncs the last day on its first run unless told otherwise.
const FIRST_RUN_MS: i64 = WINDOW_MS;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    pub shop_id: i64,
    pub windows: usize,
    pub pages: usize,
    /// Orders written (new or newer than the stored copy).
    pub orders_written: usize,
    pub orders_seen: usize,
    /// Orders updated before this instant (epoch ms) are synced.
    pub synced_until_ms: i64,
}

/// Syncs one shop from its checkpoint (or `since_ms`) to now. `progress` is told after
/// every page. A failed run records its error on the checkpoint, which stays at the
/// last finished window.
pub async fn sync_shop(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
    since_ms: Option<i64>,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> AppResult<SyncReport> {
    let now = Utc::now().timestamp_millis();
    let checkpoint = store::checkpoint(&kernel.db, shop).await?;
    let begin = since_ms.unwrap_or_else(|| {
        checkpoint
            .map(|c| c.synced_until_ms - OVERLAP_MS)
            .unwrap_or(now - FIRST_RUN_MS)
    });
    let mut report = SyncReport {
        shop_id: shop.id,
        windows: 0,
        pages: 0,
        orders_written: 0,
        orders_seen: 0,
        synced_until_ms: begin,
    };
    let label = shop.id.to_string();
    let m = &platform.metrics;
    match sync_windows(kernel, platform, shop, now, &mut report, progress).await {
        Ok(()) => {
            m.sync_runs.with_label_values(&[&label, "ok"]).inc();
            m.sync_lag_seconds
                .with_label_values(&[&label])
                .set((Utc::now().timestamp_millis() - report.synced_until_ms) / 1000);
            Ok(report)
        }
        Err(e) => {
            m.sync_runs.with_label_values(&[&label, "error"]).inc();
            let error = Some(e.to_string());
            store::save_checkpoint(&kernel.db, shop, report.synced_until_ms, error).await?;
            Err(e)
        }
    }
}

/// Pulls one-day windows from `report.synced_until_ms` to `now`, moving the checkpoint
/// after each finished window.
async fn sync_windows(
    kernel: &Kernel,
    platform: &Platform,
    shop: &shop::Model,
    now: i64,
    report: &mut SyncReport,
    progress: &(dyn Fn(&SyncReport) + Sync),
) -> AppResult<()> {
    let label = shop.id.to_string();
    let m = &platform.metrics;
    while report.synced_until_ms < now {
        let begin = report.synced_until_ms;
        let end = (begin + WINDOW_MS).min(now);
        let request = OrderCursorList {
            page_size: Some(PAGE_SIZE),
            query_type: Some(BY_UPDATE_TIME),
            begin_time: begin,
            end_time: end,
            ..Default::default()
        };
        let mut pages = std::pin::pin!(calls::pages(kernel, platform, shop, request));
        while let Some(page) = pages.try_next().await? {
            let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
            let mut written = 0;
            for info in &page.order_list {
                if store::upsert_order(&txn, shop, info).await? {
                    written += 1;
                }
            }
            txn.commit().await?;
            let seen = page.order_list.len();
            report.orders_seen += seen;
            report.orders_written += written;
            report.pages += 1;
            m.sync_pages.with_label_values(&[&label]).inc();
            m.sync_orders
                .with_label_values(&[&label, "seen"])
                .inc_by(seen as u64);
            m.sync_orders
                .with_label_values(&[&label, "written"])
                .inc_by(written as u64);
            progress(report);
        }
        // The window is complete. A crash before this line re-reads it, which changes
        // nothing: an order is written only when newer than the stored copy.
        store::save_checkpoint(&kernel.db, shop, end, None).await?;
        report.synced_until_ms = end;
        report.windows += 1;
    }
    Ok(())
}

/// Syncs every active shop, four at a time; one shop's failure does not stop the
/// others. Returns each shop's report or error.
async fn sync_all(
    kernel: &Kernel,
    platform: &Platform,
) -> AppResult<Vec<(i64, Result<SyncReport, String>)>> {
    use futures_util::StreamExt;
    let active = across_tenants::active_shops(&kernel.db).await?;
    let results = futures_util::stream::iter(active)
        .map(|s| async move {
            let r = sync_shop(kernel, platform, &s, None, &|_| {})
                .await
                .map_err(|e| e.to_string());
            (s.id, r)
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    for (shop, r) in &results {
        match r {
            Ok(report) => tracing::info!(
                shop,
                orders = report.orders_written,
                "Kuaishou orders synced"
            ),
            Err(e) => {
                tracing::warn!(shop, error = %e, "Kuaishou order sync failed; next run resumes")
            }
        }
    }
    Ok(results)
}

/// The order-sync job: every active shop, every 5 minutes; nothing while the app is
/// not configured. A run fails (and is counted so) when any shop failed.
pub fn job(platform: Arc<Platform>) -> Job {
    Job::new(
        "kuaishou_order_sync",
        Duration::from_secs(300),
        move |kernel: Kernel| {
            let platform = platform.clone();
            async move {
                if !platform.config.is_configured() {
                    return Ok(());
                }
                let results = sync_all(&kernel, &platform)
                    .await
                    .map_err(|e| e.to_string())?;
                let failed = results.iter().filter(|(_, r)| r.is_err()).count();
                if failed > 0 {
                    return Err(format!(
                        "{failed} of {} shops failed to sync",
                        results.len()
                    ));
                }
                Ok(())
            }
        },
    )
    .one_leader()
}
