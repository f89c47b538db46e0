//! Reading a platform's captcha: the solvers registered on the kernel's port, tried
//! in the platform's order, and the manual solver (a person answers at
//! `POST /gateway/captchas/{id}`).

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use sea_orm::prelude::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::json;
use shopops_kernel::captcha::{CaptchaError, CaptchaImage, CaptchaSolution, CaptchaSolver};
use shopops_kernel::{AppError, AppResult, Kernel};

use super::{Gateway, Platform};
use crate::entities::captcha;
use crate::error::Code;

/// No solver answered.
pub struct Unread {
    pub error: AppError,
    /// Some solver looked and could not read this image: another image may do.
    pub fresh_image_may_help: bool,
}

/// The first answer of the platform's solvers, in its order. A solver that is not
/// registered, cannot work now, or cannot read the image passes to the next.
pub async fn solve(
    kernel: &Kernel,
    gateway: &Gateway,
    platform: &Platform,
    image: &[u8],
    account: i64,
) -> Result<CaptchaSolution, Unread> {
    let mut unreadable = false;
    let label = format!("platform {} account {account}", platform.name);
    let mut tried = Vec::new();
    for name in &platform.settings.solvers {
        let Some(solver) = kernel.captcha.get(name) else {
            tried.push(json!({ "solver": name, "outcome": "not available" }));
            continue;
        };
        let request = CaptchaImage {
            tenant_id: platform.tenant_id,
            image,
            code_type: platform.settings.captcha_type,
            charset: platform.settings.captcha_charset.as_deref(),
            label: &label,
        };
        let (outcome, reason) = match solver.solve(request).await {
            Ok(answer) if !answer.text.trim().is_empty() => {
                return Ok(answer);
            }
            Ok(_) => ("unreadable", "empty answer".to_string()),
            Err(CaptchaError::Unreadable(r)) => ("unreadable", r),
            Err(CaptchaError::Unavailable(r)) => ("unavailable", r),
        };
        unreadable |= outcome == "unreadable";
        gateway
            .metrics
            .captchas
            .with_label_values(&[name.as_str(), outcome])
            .inc();
        tracing::info!(platform = %platform.name, solver = %name, outcome, reason = %reason, "captcha solver gave no answer");
        tried.push(json!({ "solver": name, "outcome": outcome, "reason": reason }));
    }
    Err(Unread {
        error: Code::CaptchaFailed.err().with_details(json!({
            "platform": platform.name, "solvers": tried
        })),
        fresh_image_may_help: unreadable,
    })
}

/// The manual solver: the captcha waits in `gateway_captchas` until a person of the
/// tenant answers it or `timeout` passes. Any replica may take the answer: it is in
/// the database.
pub struct ManualSolver {
    db: DatabaseConnection,
    timeout: Duration,
}

impl ManualSolver {
    pub fn new(db: DatabaseConnection, timeout: Duration) -> Self {
        Self { db, timeout }
    }

    async fn wait(&self, id: i64) -> Result<Option<String>, sea_orm::DbErr> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let row = captcha::Entity::find_by_id(id).one(&self.db).await?;
            if let Some(answer) = row
                .filter(|r| r.status == "answered")
                .and_then(|r| r.answer)
            {
                captcha::Entity::update_many()
                    .col_expr(captcha::Column::Status, Expr::value("used"))
                    .filter(captcha::Column::Id.eq(id))
                    .exec(&self.db)
                    .await?;
                return Ok(Some(answer));
            }
            if tokio::time::Instant::now() >= deadline {
                captcha::Entity::update_many()
                    .col_expr(captcha::Column::Status, Expr::value("expired"))
                    .filter(captcha::Column::Id.eq(id))
                    .filter(captcha::Column::Status.eq("pending"))
                    .exec(&self.db)
                    .await?;
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The image's type by its first bytes (what the person's browser needs).
fn content_type(image: &[u8]) -> &'static str {
    match image {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        [b'G', b'I', b'F', ..] => "image/gif",
        [b'B', b'M', ..] => "image/bmp",
        _ => "application/octet-stream",
    }
}

#[async_trait::async_trait]
impl CaptchaSolver for ManualSolver {
    fn name(&self) -> &'static str {
        "manual"
    }

    async fn solve(&self, c: CaptchaImage<'_>) -> Result<CaptchaSolution, CaptchaError> {
        let now = Utc::now();
        let row = captcha::ActiveModel {
            tenant_id: Set(c.tenant_id),
            label: Set(c.label.to_string()),
            image: Set(base64::engine::general_purpose::STANDARD.encode(c.image)),
            content_type: Set(content_type(c.image).into()),
            status: Set("pending".into()),
            answer: Set(None),
            answered_by: Set(None),
            created_at: Set(now),
            expires_at: Set(now + chrono::Duration::from_std(self.timeout).unwrap_or_default()),
            ..Default::default()
        };
        let unavailable =
            |e: sea_orm::DbErr| CaptchaError::Unavailable(format!("captcha queue: {e}"));
        let saved = row.insert(&self.db).await.map_err(unavailable)?;
        tracing::info!(
            captcha = saved.id,
            label = c.label,
            "captcha waiting for a person"
        );
        match self.wait(saved.id).await.map_err(unavailable)? {
            Some(text) => Ok(CaptchaSolution {
                text,
                solver: "manual",
                report_id: Some(saved.id.to_string()),
            }),
            None => Err(CaptchaError::Unavailable(format!(
                "nobody answered captcha {} within {} s",
                saved.id,
                self.timeout.as_secs()
            ))),
        }
    }

    async fn report_wrong(&self, _tenant_id: i64, solution: &CaptchaSolution) {
        tracing::info!(captcha = ?solution.report_id, "a person's captcha answer was refused by the platform");
    }
}

/// A person's answer to captcha `id` of `tenant`.
pub async fn answer(kernel: &Kernel, tenant: i64, user: i64, id: i64, text: &str) -> AppResult<()> {
    let row = captcha::Entity::find_by_id(id)
        .filter(captcha::Column::TenantId.eq(tenant))
        .one(&kernel.db)
        .await?
        .ok_or_else(|| AppError::not_found("captcha"))?;
    let still_pending = row.status == "pending" && row.expires_at > Utc::now();
    let updated = if still_pending {
        captcha::Entity::update_many()
            .col_expr(captcha::Column::Status, Expr::value("answered"))
            .col_expr(captcha::Column::Answer, Expr::value(text.to_string()))
            .col_expr(captcha::Column::AnsweredBy, Expr::value(user))
            .filter(captcha::Column::Id.eq(id))
            .filter(captcha::Column::Status.eq("pending"))
            .exec(&kernel.db)
            .await?
            .rows_affected
    } else {
        0
    };
    if updated == 0 {
        let status = if row.status == "pending" {
            "expired"
        } else {
            row.status.as_str()
        };
        return Err(Code::CaptchaNotPending
            .err()
            .with_details(json!({ "status": status })));
    }
    Ok(())
}
