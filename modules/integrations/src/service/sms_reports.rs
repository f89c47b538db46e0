//! Delivery reports: whether a sent SMS reached the phone, asked of the provider that
//! sent it — on demand (`GET /sms/{id}?refresh=true`) and by a job that checks recent
//! sends until a final report comes in.
//!
//! The job checks a message first `sms_report_secs` after it was sent, then at gaps of
//! half its age, never shorter than that (at 1, 2, 3, 4.5, 6.75 … minutes with the
//! default), so one that never gets a report costs about twenty queries over the
//! [`REPORT_WINDOW_HOURS`] it is followed, not thousands. The next check is a column
//! (`delivery_next_check_at`, indexed), so a round reads only what is due however many
//! sends are followed; a checker claims a message by moving that time forward with a
//! conditional update, so replicas do not ask the provider twice for it.

use chrono::{DateTime, Duration, Utc};
use shopops_kernel::{AppError, AppResult, Kernel};

use super::sms::reload;
use super::states::{Delivery, SmsStatus};
use crate::config::Capability;
use crate::entities::sms_outbox;
use crate::error;
use crate::manager::Manager;
use crate::providers::{DeliveryQuery, ProviderError};
use crate::store::outbox as store;

/// How long after a send reports are looked for: carriers report within minutes, and a
/// phone that stays off for two days is not worth asking about again.
pub const REPORT_WINDOW_HOURS: i64 = 48;
/// Messages checked per round of the job.
const BATCH: u64 = 50;

/// How long a claimed check is left to its checker before another may take it: longer
/// than a provider's answer can take.
const CLAIM_SECS: i64 = 120;

/// The first check of a message sent at `sent_at`; `gap` is the shortest gap between
/// checks (`sms_report_secs`).
pub fn first_check(gap: Duration, sent_at: DateTime<Utc>) -> DateTime<Utc> {
    sent_at + gap
}

/// The check after one at `checked_at` that brought no final report; None once that
/// is past the window.
fn next_check(
    gap: Duration,
    sent_at: DateTime<Utc>,
    checked_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let gap = gap.max((checked_at - sent_at) / 2);
    Some(checked_at + gap).filter(|at| *at <= sent_at + Duration::hours(REPORT_WINDOW_HOURS))
}

/// Asks the provider that sent the message whether it reached the phone, and keeps
/// the answer. A final report (delivered or failed) is not asked again.
pub async fn refresh_delivery(
    kernel: &Kernel,
    manager: &Manager,
    row: sms_outbox::Model,
) -> AppResult<sms_outbox::Model> {
    let (Some(provider), Some(provider_message_id), Some(sent_at)) =
        (&row.provider, &row.provider_message_id, row.sent_at)
    else {
        return Ok(row);
    };
    if row.status != SmsStatus::Sent || row.delivery.is_some() {
        return Ok(row);
    }
    let slot = manager.provider(Capability::Sms, provider).ok_or_else(|| {
        error::provider_error(
            provider,
            ProviderError::Unavailable("no longer configured".into()),
        )
    })?;
    let query = DeliveryQuery {
        phone: kernel
            .pii
            .decrypt(&row.phone_enc)
            .map_err(AppError::internal)?,
        provider_message_id: provider_message_id.clone(),
        sent_at,
    };
    let query = &query;
    let report = manager
        .attempt(&slot, |s| async move {
            s.sms()
                .ok_or_else(|| ProviderError::Unavailable("not an SMS provider".into()))?
                .delivery(query)
                .await
        })
        .await
        .map_err(|e| {
            count(manager, provider, "error");
            error::provider_error(provider, e)
        })?;
    let report = report.map(|r| (Delivery::of(r.delivered), r.detail));
    count(
        manager,
        provider,
        match &report {
            Some((delivery, _)) => delivery.as_str(),
            None => "none",
        },
    );
    let now = Utc::now();
    let next = match report {
        Some(_) => None,
        None => next_check(manager.settings.sms_report_gap(), sent_at, now),
    };
    store::save_check(&kernel.db, &row, now, report, next).await?;
    reload(kernel, &row).await
}

fn count(manager: &Manager, provider: &str, outcome: &str) {
    manager
        .metrics
        .sms_reports
        .with_label_values(&[provider, outcome])
        .inc();
}

/// One round of the job: checks the sends that are due, oldest due first; how many
/// were asked. A claim moves a message's next check [`CLAIM_SECS`] ahead, so a replica
/// that found it due too misses it; the check then sets the real next time (or a crash
/// leaves it to be retried). A provider that cannot answer now is asked again at the
/// next check.
pub async fn check_due(kernel: &Kernel, manager: &Manager) -> AppResult<usize> {
    let now = Utc::now();
    let due = store::reports_due(&kernel.db, now, BATCH).await?;
    let mut asked = 0;
    for row in due {
        let claimed_until = now + Duration::seconds(CLAIM_SECS);
        if !store::claim_check(&kernel.db, &row, now, claimed_until).await? {
            continue;
        }
        asked += 1;
        let (kept, sent_at) = (row.clone(), row.sent_at);
        let provider = row.provider.clone().unwrap_or_default();
        if let Err(e) = refresh_delivery(kernel, manager, row).await {
            // No answer now: the next check is the one after this.
            let next =
                sent_at.and_then(|sent| next_check(manager.settings.sms_report_gap(), sent, now));
            store::set_next_check(&kernel.db, &kept, next).await?;
            tracing::info!(sms_id = kept.id, %provider, error = %e, "no delivery report now");
        }
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_spread_out_as_a_message_ages_and_stop_after_the_window() {
        let gap = crate::config::IntegrationsSettings::default().sms_report_gap();
        let first_check = |sent| first_check(gap, sent);
        let next_check = |sent, at| next_check(gap, sent, at);
        let sent = Utc::now();
        let secs = chrono::Duration::seconds;
        assert_eq!(first_check(sent), sent + secs(60));
        // Checked a minute after: the gap stays the minimum.
        assert_eq!(next_check(sent, sent + secs(60)), Some(sent + secs(120)));
        // Checked after an hour: next in half an hour.
        assert_eq!(next_check(sent, sent + secs(3600)), Some(sent + secs(5400)));
        // Over the window the checks stay few, then stop.
        let (mut at, mut checks) = (Some(first_check(sent)), 0);
        while let Some(t) = at {
            checks += 1;
            at = next_check(sent, t);
        }
        assert!((15..=25).contains(&checks), "{checks} checks in the window");
        assert_eq!(next_check(sent, sent + chrono::Duration::hours(40)), None);
    }
}
