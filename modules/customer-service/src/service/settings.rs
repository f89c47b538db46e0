//! A tenant's customer-service settings: the LLM's system prompt and the time zone of
//! business hours and statistics days (default `cs.time_zone`).

use chrono::Utc;
use chrono_tz::Tz;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::{tr, validate, AppResult};
use utoipa::ToSchema;

use crate::entities::settings;

pub const PROMPT_MAX_CHARS: usize = 4000;

/// The settings as callers see and set them.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// The LLM's system prompt; `null`: the built-in default (shown in
    /// `default_system_prompt` when read).
    #[schema(max_length = 4000)]
    pub system_prompt: Option<String>,
    /// IANA time zone of business hours and statistics days, e.g. `Asia/Shanghai`.
    #[schema(max_length = 64)]
    pub time_zone: String,
}

impl TenantSettings {
    pub fn check(&self) -> AppResult<()> {
        let mut errors = FieldErrors::new();
        if let Some(prompt) = &self.system_prompt {
            if prompt.trim().is_empty() {
                errors.add(
                    "system_prompt",
                    tr!(
                        "不能为空（用 null 恢复默认）",
                        "must not be empty (null restores the default)"
                    ),
                );
            }
            validate::free_text("system_prompt", prompt, PROMPT_MAX_CHARS, &mut errors);
        }
        if self.time_zone.parse::<Tz>().is_err() {
            errors.add(
                "time_zone",
                tr!(
                    "不是 IANA 时区名（如 Asia/Shanghai）",
                    "is not an IANA time zone name (e.g. Asia/Shanghai)"
                ),
            );
        }
        errors.into_result()
    }

    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::Asia__Shanghai)
    }
}

/// The tenant's settings, or the defaults when it has saved none.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    default_tz: &str,
) -> AppResult<TenantSettings> {
    Ok(match settings::Entity::find_by_id(tenant).one(db).await? {
        Some(s) => TenantSettings {
            system_prompt: s.system_prompt,
            time_zone: s.time_zone,
        },
        None => TenantSettings {
            system_prompt: None,
            time_zone: default_tz.to_string(),
        },
    })
}

/// Saves the tenant's settings (checked by the caller).
pub async fn put<C: ConnectionTrait>(db: &C, tenant: i64, value: &TenantSettings) -> AppResult<()> {
    let model = settings::ActiveModel {
        tenant_id: Set(tenant),
        system_prompt: Set(value.system_prompt.clone()),
        time_zone: Set(value.time_zone.clone()),
        updated_at: Set(Utc::now()),
    };
    if settings::Entity::find_by_id(tenant)
        .one(db)
        .await?
        .is_some()
    {
        model.update(db).await?;
    } else {
        model.insert(db).await?;
    }
    Ok(())
}
