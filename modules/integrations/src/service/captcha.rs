//! Captcha recognition through the captcha providers in priority order. A wrong answer
//! is reported to the provider that gave it (`pic_id` is `<provider>:<its id>`), so
//! its points are refunded.

use shopops_kernel::{AppError, AppResult};

use crate::config::Capability;
use crate::error;
use crate::manager::Manager;
use crate::providers::{CaptchaAnswer, ProviderError};

fn not_captcha() -> ProviderError {
    ProviderError::Unavailable("not a captcha provider".into())
}

pub async fn recognize(
    manager: &Manager,
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
    Ok((slot.config.name, answer))
}

pub async fn report_error(manager: &Manager, pic_id: &str) -> AppResult<()> {
    let (provider, id) = pic_id.split_once(':').ok_or_else(|| {
        AppError::bad_request(
            "INVALID_PIC_ID",
            "pic_id is `<provider>:<id>` as recognize returned it",
        )
    })?;
    let slot = manager
        .provider(Capability::Captcha, provider)
        .ok_or_else(|| AppError::not_found("captcha provider"))?;
    manager
        .attempt(&slot, |s| async move {
            s.captcha().ok_or_else(not_captcha)?.report_error(id).await
        })
        .await
        .map_err(|e| error::provider_error(provider, e))
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
