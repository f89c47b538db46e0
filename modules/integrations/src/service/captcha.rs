//! Captcha recognition through the captcha providers in priority order. A wrong answer
//! is reported to the provider that gave it (`pic_id` is `<provider>:<its id>`), so
//! its points are refunded.
//!
//! The provider account is shared by every tenant, so each answer is recorded with the
//! tenant it went to: only that tenant may report it (another tenant's `pic_id` is
//! 404, as any other tenant's row), and only once.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use shopops_kernel::{AppError, AppResult, Kernel};

use crate::config::Capability;
use crate::entities::captcha_recognition as recognition;
use crate::error;
use crate::manager::Manager;
use crate::providers::{CaptchaAnswer, ProviderError};

/// How long an answer may be reported wrong; older records are purged.
pub const REPORTABLE_FOR: chrono::Duration = chrono::Duration::days(7);

fn not_captcha() -> ProviderError {
    ProviderError::Unavailable("not a captcha provider".into())
}

/// Recognises an image for `tenant` and records which tenant the answer went to.
pub async fn recognize(
    kernel: &Kernel,
    manager: &Manager,
    tenant: i64,
    image: &[u8],
    codetype: &str,
) -> AppResult<(String, CaptchaAnswer)> {
    let (slot, mut answer) = manager
        .failover(manager.candidates(Capability::Captcha), |slot| async move {
            slot.captcha()
                .ok_or_else(not_captcha)?
                .recognize(image, codetype)
                .await
        })
        .await
        .map_err(|f| error::failure("CAPTCHA_UNAVAILABLE", "captcha", f))?;
    answer.pic_id = answer.pic_id.map(|id| format!("{}:{id}", slot.config.name));
    if let Some(pic_id) = &answer.pic_id {
        let row = recognition::ActiveModel {
            tenant_id: Set(tenant),
            pic_id: Set(pic_id.clone()),
            provider: Set(slot.config.name.clone()),
            created_at: Set(Utc::now()),
            reported_at: Set(None),
            ..Default::default()
        };
        // A provider's ids are unique; should one ever repeat, the first tenant keeps it.
        recognition::Entity::insert(row)
            .on_conflict(
                OnConflict::column(recognition::Column::PicId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&kernel.db)
            .await?;
    }
    Ok((slot.config.name, answer))
}

/// Reports `tenant`'s answer `pic_id` wrong to the provider that gave it. The answer is
/// claimed first (a conditional update), so two concurrent reports reach the provider
/// once; a failed report releases the claim for a retry.
pub async fn report_error(
    kernel: &Kernel,
    manager: &Manager,
    tenant: i64,
    pic_id: &str,
) -> AppResult<()> {
    let (provider, id) = pic_id.split_once(':').ok_or_else(|| {
        AppError::bad_request(
            "INVALID_PIC_ID",
            "pic_id is `<provider>:<id>` as recognize returned it",
        )
    })?;
    let own = || {
        recognition::Entity::find()
            .filter(recognition::Column::TenantId.eq(tenant))
            .filter(recognition::Column::PicId.eq(pic_id))
            .filter(recognition::Column::CreatedAt.gt(Utc::now() - REPORTABLE_FOR))
    };
    let found = own()
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("captcha answer"))?;
    let claimed = recognition::Entity::update_many()
        .col_expr(recognition::Column::ReportedAt, Expr::value(Utc::now()))
        .filter(recognition::Column::Id.eq(found.id))
        .filter(recognition::Column::ReportedAt.is_null())
        .exec(&kernel.db)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(AppError::conflict(
            "CAPTCHA_ALREADY_REPORTED",
            "this answer was already reported wrong",
        ));
    }
    let reported = match manager.provider(Capability::Captcha, provider) {
        None => Err(AppError::not_found("captcha provider")),
        Some(slot) => manager
            .attempt(&slot, |s| async move {
                s.captcha().ok_or_else(not_captcha)?.report_error(id).await
            })
            .await
            .map_err(|e| error::provider_error(provider, e)),
    };
    if reported.is_err() {
        recognition::Entity::update_many()
            .col_expr(
                recognition::Column::ReportedAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            .filter(recognition::Column::Id.eq(found.id))
            .exec(&kernel.db)
            .await?;
    }
    reported
}

/// Deletes answers past their reporting window; run on a schedule.
pub async fn purge_expired(kernel: &Kernel) -> AppResult<u64> {
    let deleted = recognition::Entity::delete_many()
        .filter(recognition::Column::CreatedAt.lt(Utc::now() - REPORTABLE_FOR))
        .exec(&kernel.db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Each provider's remaining points.
pub async fn balances(manager: &Manager) -> Vec<(String, Result<i64, String>)> {
    let mut out = Vec::new();
    for slot in manager.candidates(Capability::Captcha) {
        let r = manager
            .attempt(&slot, |s| async move {
                s.captcha().ok_or_else(not_captcha)?.balance().await
            })
            .await
            .map_err(|e| e.to_string());
        out.push((slot.config.name.clone(), r));
    }
    out
}
