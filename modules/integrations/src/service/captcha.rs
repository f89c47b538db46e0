//! Captcha recognition through the captcha providers in priority order. A wrong answer
//! is reported to the provider that gave it (`pic_id` is `<provider>:<its id>`), so
//! its points are refunded.
//!
//! The provider account is shared by every tenant, so each answer is recorded with the
//! tenant it went to: only that tenant may report it (another tenant's `pic_id` is
//! 404, as any other tenant's row), and only once.

use base64::Engine;
use chrono::Utc;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{tr, AppError, AppResult, Kernel};

use crate::config::Capability;
use crate::error::{self, Code};
use crate::manager::{Failure, Manager};
use crate::providers::{CaptchaAnswer, ProviderError};
use crate::store::captcha as store;

/// How long an answer may be reported wrong; older records are purged.
pub const REPORTABLE_FOR: chrono::Duration = chrono::Duration::days(7);
/// The largest image sent to a provider.
const MAX_IMAGE_BYTES: usize = 1 << 20;

fn not_captcha() -> ProviderError {
    ProviderError::Unavailable("not a captcha provider".into())
}

/// The image of a recognition request (Base64, at most 1 MiB decoded), once its
/// captcha type is one a provider can read (digits).
pub fn image(image_base64: &str, codetype: &str) -> AppResult<Vec<u8>> {
    let mut errors = FieldErrors::new();
    let image = base64::engine::general_purpose::STANDARD
        .decode(image_base64.trim())
        .ok()
        .filter(|bytes| !bytes.is_empty() && bytes.len() <= MAX_IMAGE_BYTES);
    if image.is_none() {
        errors.add(
            "image_base64",
            tr!(
                "应为不超过 1 MiB 的图片的 Base64",
                "Base64 of an image of at most 1 MiB"
            ),
        );
    }
    if codetype.is_empty() || codetype.len() > 8 || !codetype.bytes().all(|b| b.is_ascii_digit()) {
        errors.add(
            "codetype",
            tr!(
                "应为服务商的数字验证码类型",
                "the provider's numeric captcha type"
            ),
        );
    }
    errors.into_result()?;
    Ok(image.unwrap_or_default())
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
        .map_err(|f| error::failure(Code::CaptchaUnavailable, f))?;
    answer.pic_id = answer.pic_id.map(|id| format!("{}:{id}", slot.config.name));
    if let Some(pic_id) = &answer.pic_id {
        store::insert(&kernel.db, tenant, pic_id, &slot.config.name).await?;
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
    let (provider, id) = pic_id
        .split_once(':')
        .ok_or_else(|| Code::InvalidPicId.err())?;
    let found = store::answer(&kernel.db, tenant, pic_id, Utc::now() - REPORTABLE_FOR)
        .await?
        .ok_or_else(|| AppError::not_found("captcha_answer"))?;
    if !store::claim_report(&kernel.db, &found).await? {
        return Err(Code::CaptchaAlreadyReported.err());
    }
    let reported = match manager.provider(Capability::Captcha, provider) {
        None => Err(AppError::not_found("captcha_provider")),
        Some(slot) => manager
            .attempt(&slot, |s| async move {
                s.captcha().ok_or_else(not_captcha)?.report_error(id).await
            })
            .await
            .map_err(|e| error::provider_error(provider, e)),
    };
    if reported.is_err() {
        store::release_report(&kernel.db, &found).await?;
    }
    reported
}

/// Deletes answers past their reporting window; the hourly purge job.
pub async fn purge_expired(kernel: &Kernel) -> AppResult<u64> {
    Ok(store::purge(&kernel.db, Utc::now() - REPORTABLE_FOR).await?)
}

/// Each provider's remaining points, or why it could not tell.
pub async fn balances(manager: &Manager) -> AppResult<Vec<(String, Result<i64, String>)>> {
    let candidates = manager.candidates(Capability::Captcha);
    if candidates.is_empty() {
        return Err(error::failure(
            Code::CaptchaUnavailable,
            Failure::NoProvider,
        ));
    }
    let mut out = Vec::new();
    for slot in candidates {
        let r = manager
            .attempt(&slot, |s| async move {
                s.captcha().ok_or_else(not_captcha)?.balance().await
            })
            .await
            .map_err(|e| e.to_string());
        out.push((slot.config.name.clone(), r));
    }
    Ok(out)
}

/// The captcha providers as the kernel's `chaojiying` solver (docs/gateway.md): the
/// gateway asks for it by name and never sees this module. Answers are recorded per
/// tenant as `recognize` does, so a wrong one is reported (and refunded) once.
pub struct ProviderSolver {
    kernel: Kernel,
    manager: std::sync::Arc<Manager>,
}

impl ProviderSolver {
    pub fn new(kernel: Kernel, manager: std::sync::Arc<Manager>) -> Self {
        Self { kernel, manager }
    }
}

#[async_trait::async_trait]
impl shopops_kernel::captcha::CaptchaSolver for ProviderSolver {
    fn name(&self) -> &'static str {
        "chaojiying"
    }

    async fn solve(
        &self,
        c: shopops_kernel::captcha::CaptchaImage<'_>,
    ) -> Result<shopops_kernel::captcha::CaptchaSolution, shopops_kernel::captcha::CaptchaError>
    {
        use shopops_kernel::captcha::{CaptchaError, CaptchaSolution};
        if c.image.len() > MAX_IMAGE_BYTES {
            return Err(CaptchaError::Unreadable("image larger than 1 MiB".into()));
        }
        let codetype = c.code_type.to_string();
        match recognize(&self.kernel, &self.manager, c.tenant_id, c.image, &codetype).await {
            Ok((_, answer)) => match answer.answer {
                Some(text) if !text.is_empty() => Ok(CaptchaSolution {
                    text,
                    solver: "chaojiying",
                    report_id: answer.pic_id,
                }),
                _ => Err(CaptchaError::Unreadable("the provider gave no text".into())),
            },
            Err(e) => Err(CaptchaError::Unavailable(format!(
                "captcha providers: {}",
                e.code
            ))),
        }
    }

    async fn report_wrong(
        &self,
        tenant_id: i64,
        solution: &shopops_kernel::captcha::CaptchaSolution,
    ) {
        let Some(pic_id) = &solution.report_id else {
            return;
        };
        if let Err(e) = report_error(&self.kernel, &self.manager, tenant_id, pic_id).await {
            tracing::warn!(error = %e.code, "wrong captcha answer not reported to its provider");
        }
    }
}
