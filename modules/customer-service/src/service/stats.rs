//! Daily statistics per shop and per tenant (`shop_id` 0), for a day of the tenant's
//! time zone. Recomputing a day replaces its rows, so runs are idempotent.
//!
//! - `messages`: received that day; `auto_sent`: replies sent without review;
//! - `reviewed`: decided by a reviewer = `approved_unedited` + `approved_edited` +
//!   `rejected`;
//! - `kb_answered`: answered with a KB answer as it was (not rewritten by a reviewer);
//!   `kb_hit_rate` = kb_answered / messages;
//! - `ai_accuracy`: of the reviewed messages that had a draft, the share approved
//!   without an edit (none without such messages);
//! - `median_secs`, `p95_secs`: from arrival to the agent's `sent`.

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use shopops_kernel::AppResult;
use utoipa::ToSchema;

use super::states::{MessageStatus, ReplySource};
use crate::entities::{message, stat_daily};

#[derive(Debug, FromQueryResult)]
struct Row {
    shop_id: i64,
    status: MessageStatus,
    auto_send: bool,
    reply_source: Option<ReplySource>,
    draft_failure: Option<String>,
    reviewed_at: Option<chrono::DateTime<Utc>>,
    edited: Option<bool>,
    received_at: chrono::DateTime<Utc>,
    sent_at: Option<chrono::DateTime<Utc>>,
}

/// One day's figures of a shop (or of the tenant).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct DayFigures {
    pub messages: i64,
    pub auto_sent: i64,
    pub reviewed: i64,
    pub approved_unedited: i64,
    pub approved_edited: i64,
    pub rejected: i64,
    pub kb_answered: i64,
    pub kb_hit_rate: f64,
    pub ai_accuracy: Option<f64>,
    pub median_secs: Option<f64>,
    pub p95_secs: Option<f64>,
}

fn figures(rows: &[&Row]) -> DayFigures {
    let mut f = DayFigures {
        messages: rows.len() as i64,
        ..Default::default()
    };
    let mut drafted_reviews = 0;
    let mut drafted_unedited = 0;
    let mut waits: Vec<f64> = Vec::new();
    for r in rows {
        f.auto_sent += i64::from(r.auto_send);
        let answered = r.status == MessageStatus::Answered;
        // A KB answer a reviewer rewrote is the reviewer's answer, not the KB's.
        if answered && r.reply_source == Some(ReplySource::Kb) && r.edited != Some(true) {
            f.kb_answered += 1;
        }
        if r.reviewed_at.is_some() {
            f.reviewed += 1;
            let unedited = answered && r.edited == Some(false);
            match (answered, r.edited) {
                (true, Some(true)) => f.approved_edited += 1,
                (true, _) => f.approved_unedited += 1,
                (false, _) => f.rejected += 1,
            }
            if r.reply_source.is_some() && r.draft_failure.is_none() {
                drafted_reviews += 1;
                drafted_unedited += i64::from(unedited);
            }
        }
        if let Some(sent) = r.sent_at {
            waits.push((sent - r.received_at).num_milliseconds() as f64 / 1000.0);
        }
    }
    if f.messages > 0 {
        f.kb_hit_rate = f.kb_answered as f64 / f.messages as f64;
    }
    if drafted_reviews > 0 {
        f.ai_accuracy = Some(drafted_unedited as f64 / drafted_reviews as f64);
    }
    waits.sort_by(f64::total_cmp);
    let rank = |p: f64| waits[((waits.len() as f64 * p).ceil() as usize).clamp(1, waits.len()) - 1];
    if !waits.is_empty() {
        f.median_secs = Some(rank(0.5));
        f.p95_secs = Some(rank(0.95));
    }
    f
}

/// The first instant of `day` in `tz`. Where daylight saving skips midnight
/// (America/Santiago, Asia/Beirut …) the day starts at the first local time that
/// exists, found minute by minute (a gap is at most a few hours).
pub fn day_start(tz: Tz, day: NaiveDate) -> chrono::DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    (0..24 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + chrono::Duration::minutes(m)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// Computes and stores `day` (in `tz`) for the tenant: one row per shop with messages
/// and the tenant's row. Returns the tenant's figures.
pub async fn compute<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant: i64,
    day: NaiveDate,
    tz: Tz,
) -> AppResult<DayFigures> {
    let start = day_start(tz, day);
    let end = day_start(tz, day.succ_opt().unwrap_or(day));
    use message::Column as M;
    let rows: Vec<Row> = message::Entity::find()
        .select_only()
        .columns([
            M::ShopId,
            M::Status,
            M::AutoSend,
            M::ReplySource,
            M::DraftFailure,
            M::ReviewedAt,
            M::Edited,
            M::ReceivedAt,
            M::SentAt,
        ])
        .filter(M::TenantId.eq(tenant))
        .filter(M::ReceivedAt.gte(start))
        .filter(M::ReceivedAt.lt(end))
        .into_model::<Row>()
        .all(db)
        .await?;
    let mut shops: Vec<i64> = rows.iter().map(|r| r.shop_id).collect();
    shops.sort_unstable();
    shops.dedup();
    let day_text = day.format("%Y-%m-%d").to_string();
    let txn = shopops_kernel::db::begin_write(db).await?;
    stat_daily::Entity::delete_many()
        .filter(stat_daily::Column::TenantId.eq(tenant))
        .filter(stat_daily::Column::Day.eq(day_text.clone()))
        .exec(&txn)
        .await?;
    let all: Vec<&Row> = rows.iter().collect();
    let total = figures(&all);
    for shop in std::iter::once(0).chain(shops) {
        let f = if shop == 0 {
            total.clone()
        } else {
            figures(
                &rows
                    .iter()
                    .filter(|r| r.shop_id == shop)
                    .collect::<Vec<_>>(),
            )
        };
        stat_daily::ActiveModel {
            tenant_id: Set(tenant),
            shop_id: Set(shop),
            day: Set(day_text.clone()),
            messages: Set(f.messages),
            auto_sent: Set(f.auto_sent),
            reviewed: Set(f.reviewed),
            approved_unedited: Set(f.approved_unedited),
            approved_edited: Set(f.approved_edited),
            rejected: Set(f.rejected),
            kb_answered: Set(f.kb_answered),
            kb_hit_rate: Set(f.kb_hit_rate),
            ai_accuracy: Set(f.ai_accuracy),
            median_secs: Set(f.median_secs),
            p95_secs: Set(f.p95_secs),
            computed_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(total)
}

/// The tenant and arrival of every message changed (reviewed, sent …) since `since`,
/// one per tenant and arrival minute.
pub async fn changed_messages<C: ConnectionTrait>(
    db: &C,
    since: chrono::DateTime<Utc>,
) -> AppResult<Vec<(i64, chrono::DateTime<Utc>)>> {
    let mut rows: Vec<(i64, chrono::DateTime<Utc>)> = message::Entity::find()
        .select_only()
        .column(message::Column::TenantId)
        .column(message::Column::ReceivedAt)
        .filter(message::Column::UpdatedAt.gte(since))
        .into_tuple()
        .all(db)
        .await?;
    rows.sort_unstable();
    rows.dedup_by(|a, b| a.0 == b.0 && a.1.timestamp() / 60 == b.1.timestamp() / 60);
    Ok(rows)
}

/// The tenants that have messages received since `since`.
pub async fn active_tenants<C: ConnectionTrait>(
    db: &C,
    since: chrono::DateTime<Utc>,
) -> AppResult<Vec<i64>> {
    Ok(message::Entity::find()
        .select_only()
        .column(message::Column::TenantId)
        .distinct()
        .filter(message::Column::ReceivedAt.gte(since))
        .into_tuple::<i64>()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(
        status: MessageStatus,
        source: Option<ReplySource>,
        reviewed: bool,
        edited: Option<bool>,
        wait: Option<i64>,
    ) -> Row {
        let received = Utc::now();
        Row {
            shop_id: 1,
            status,
            auto_send: !reviewed && status == MessageStatus::Answered,
            reply_source: source,
            draft_failure: None,
            reviewed_at: reviewed.then(Utc::now),
            edited,
            received_at: received,
            sent_at: wait.map(|s| received + Duration::seconds(s)),
        }
    }

    #[test]
    fn figures_count_each_outcome_once() {
        use MessageStatus::*;
        let rows = [
            row(Answered, Some(ReplySource::Kb), false, None, Some(2)),
            row(
                Answered,
                Some(ReplySource::Llm),
                true,
                Some(false),
                Some(60),
            ),
            row(
                Answered,
                Some(ReplySource::Llm),
                true,
                Some(true),
                Some(120),
            ),
            row(Ignored, Some(ReplySource::Llm), true, None, None),
            row(Review, Some(ReplySource::Llm), false, None, None),
        ];
        let f = figures(&rows.iter().collect::<Vec<_>>());
        assert_eq!((f.messages, f.auto_sent, f.reviewed), (5, 1, 3));
        assert_eq!(
            (f.approved_unedited, f.approved_edited, f.rejected),
            (1, 1, 1)
        );
        assert_eq!(f.kb_answered, 1);
        assert!((f.kb_hit_rate - 0.2).abs() < 1e-9);
        assert!((f.ai_accuracy.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(f.median_secs, Some(60.0));
        assert_eq!(f.p95_secs, Some(120.0));
        assert_eq!(figures(&[]), DayFigures::default());

        // A KB answer a reviewer rewrote is not the KB's.
        let rewritten = row(Answered, Some(ReplySource::Kb), true, Some(true), None);
        assert_eq!(figures(&[&rewritten]).kb_answered, 0);
    }

    #[test]
    fn days_start_at_the_first_local_time_that_exists() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        assert_eq!(
            day_start(shanghai, day(2026, 12, 2)).to_rfc3339(),
            "2026-12-01T16:00:00+00:00"
        );
        // Santiago skips 00:00–01:00 on 2026-09-06: the day starts at 01:00 (UTC−3).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(
            day_start(santiago, day(2026, 9, 6)).to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
        assert!(day_start(santiago, day(2026, 9, 6)) > day_start(santiago, day(2026, 9, 5)));
    }
}
