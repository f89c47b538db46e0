//! Platforms and their accounts: the settings an admin gives (checked once, here, so
//! the rest of the module only sees settings that can work), stored as JSON on the
//! platform row; account secrets encrypted by the kernel's vault.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use shopops_kernel::error::{FieldErrors, Localized};
use shopops_kernel::{AppError, AppResult};
use utoipa::ToSchema;

/// The names of the login form's fields (`user_no`, `username`, `password`, `captcha` by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FormFields {
    #[schema(min_length = 1, max_length = 64)]
    pub user_no: String,
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[schema(min_length = 1, max_length = 64)]
    pub password: String,
    #[schema(min_length = 1, max_length = 64)]
    pub captcha: String,
    /// Fixed fields sent with every login (`{"remember": "1"}`).
    pub extra: BTreeMap<String, String>,
}

impl Default for FormFields {
    fn default() -> Self {
        Self {
            user_no: "user_no".into(),
            username: "username".into(),
            password: "password".into(),
            captcha: "captcha".into(),
            extra: BTreeMap::new(),
        }
    }
}

/// How a login answer is recognised as a success: every rule given must hold. With
/// none, a redirect (3xx) anywhere but back to the login URL is a success.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSuccess {
    /// The answer's status (`200`, `302`).
    #[schema(minimum = 100, maximum = 599)]
    pub status: Option<u16>,
    /// A text the `Location` header must contain (`/index.php`).
    #[schema(max_length = 256)]
    pub location_contains: Option<String>,
    /// A text the body must contain (`"code":0`).
    #[schema(max_length = 256)]
    pub body_contains: Option<String>,
    /// A cookie the answer must set (`PHPSESSID`).
    #[schema(max_length = 256)]
    pub cookie: Option<String>,
}

/// How a later call is recognised as "the session expired" (any rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ExpiryRule {
    pub statuses: Vec<u16>,
    /// A redirect whose `Location` contains the login URL.
    pub login_redirect: bool,
    /// A text in the body (`请重新登录`).
    #[schema(max_length = 256)]
    pub body_contains: Option<String>,
}

impl Default for ExpiryRule {
    fn default() -> Self {
        Self {
            statuses: vec![401, 403],
            login_redirect: true,
            body_contains: None,
        }
    }
}

/// A platform's working settings (all fields known and checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformSettings {
    /// `https://crm.example.com` (scheme and host; a path prefix is allowed).
    pub base_url: String,
    /// Path of the login form's target, under `base_url`.
    pub login_url: String,
    /// Path of the captcha image; a random `t` parameter is added per fetch.
    pub captcha_url: String,
    /// Chaojiying's type code (1004: 1–4 letters and digits).
    pub captcha_type: u32,
    /// Fresh captchas tried after a wrong answer.
    pub captcha_max_retries: u32,
    /// The characters captchas use, when known (`0123456789`): solvers that can
    /// restrict their output do.
    pub captcha_charset: Option<String>,
    /// Solvers tried in this order (`chaojiying`, `local`, `manual`).
    pub solvers: Vec<String>,
    pub form_fields: FormFields,
    pub success: LoginSuccess,
    /// A text in a failed login's body meaning "wrong captcha" (retried with a fresh
    /// one); any other failure is a refused password (never retried).
    pub captcha_error_marker: String,
    pub expiry: ExpiryRule,
    pub heartbeat_path: String,
    /// Seconds between heartbeats of a live session.
    pub keepalive_interval: u64,
    /// Seconds a session lives without use (the key's TTL in Redis).
    pub session_timeout: u64,
    /// Keepalive refreshes tried before an alert.
    pub max_retries: u32,
    /// Calls one session serves before it is retired and a new login made (0: no
    /// limit).
    pub max_session_uses: u64,
    /// Cache key prefix; default `gateway:{tenant}:{platform name}:`.
    pub redis_key_prefix: Option<String>,
}

/// An account as an admin gives it: all three secrets, write-only.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    #[serde(default)]
    #[schema(max_length = 128)]
    pub user_no: String,
    #[schema(min_length = 1, max_length = 128)]
    pub username: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// The fields of `POST` (where `name`, `base_url`, `captcha_url` and `accounts` are
/// required) and `PATCH` (absent fields stay; `accounts` replaces the list).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GatewayPlatformFields)]
pub struct PlatformFields {
    /// Lower-case letters, digits, `_` and `-`, 1 to 64 (it names the cache keys).
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    pub enabled: Option<bool>,
    #[schema(max_length = 512)]
    pub base_url: Option<String>,
    #[schema(max_length = 512)]
    pub login_url: Option<String>,
    #[schema(max_length = 512)]
    pub captcha_url: Option<String>,
    #[schema(minimum = 1, maximum = 99999999)]
    pub captcha_type: Option<u32>,
    #[schema(minimum = 0, maximum = 10)]
    pub captcha_max_retries: Option<u32>,
    #[schema(max_length = 256)]
    pub captcha_charset: Option<String>,
    #[schema(max_items = 3)]
    pub solvers: Option<Vec<String>>,
    pub form_fields: Option<FormFields>,
    pub success: Option<LoginSuccess>,
    #[schema(min_length = 1, max_length = 256)]
    pub captcha_error_marker: Option<String>,
    pub expiry: Option<ExpiryRule>,
    #[schema(max_length = 512)]
    pub heartbeat_path: Option<String>,
    #[schema(minimum = 1, maximum = 86400)]
    pub keepalive_interval: Option<u64>,
    #[schema(minimum = 30, maximum = 604800)]
    pub session_timeout: Option<u64>,
    #[schema(minimum = 0, maximum = 10)]
    pub max_retries: Option<u32>,
    #[schema(minimum = 0, maximum = 1000000)]
    pub max_session_uses: Option<u64>,
    #[schema(max_length = 128)]
    pub redis_key_prefix: Option<String>,
    /// 1 to 20 accounts, used in this order.
    #[schema(min_items = 1, max_items = 20)]
    pub accounts: Option<Vec<AccountInput>>,
}

/// The solvers a platform may list.
pub const SOLVERS: [&str; 3] = ["chaojiying", "local", "manual"];

/// A checked platform: what `apply` returns for the store to save.
#[derive(Debug, Clone)]
pub struct CheckedPlatform {
    pub name: String,
    pub enabled: bool,
    pub settings: PlatformSettings,
    /// `None`: keep the stored accounts.
    pub accounts: Option<Vec<AccountInput>>,
}

fn msg(zh: &'static str, en: &'static str) -> Localized {
    Localized::fixed(zh, en)
}

fn path_ok(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.contains(['\r', '\n', '#', ' '])
}

/// Checks `fields` over `current` (a `PATCH`) or over the defaults (a `POST`); every
/// problem is named by its field in one 422.
pub fn apply(
    current: Option<(&str, bool, &PlatformSettings)>,
    fields: PlatformFields,
) -> AppResult<CheckedPlatform> {
    let mut errors = FieldErrors::new();
    let creating = current.is_none();
    let name = fields
        .name
        .or_else(|| current.map(|c| c.0.to_string()))
        .unwrap_or_default();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        errors.add(
            "name",
            msg(
                "平台名须为1-64个小写字母、数字、_或-",
                "must be 1 to 64 lower-case letters, digits, _ or -",
            ),
        );
    }
    let base = current.map(|c| c.2.clone());
    let pick = |given: Option<String>, old: Option<String>, default: &str| {
        given.or(old).unwrap_or_else(|| default.to_string())
    };
    let settings = PlatformSettings {
        base_url: pick(
            fields.base_url,
            base.as_ref().map(|b| b.base_url.clone()),
            "",
        ),
        login_url: pick(
            fields.login_url,
            base.as_ref().map(|b| b.login_url.clone()),
            "/login",
        ),
        captcha_url: pick(
            fields.captcha_url,
            base.as_ref().map(|b| b.captcha_url.clone()),
            "",
        ),
        captcha_type: fields
            .captcha_type
            .or(base.as_ref().map(|b| b.captcha_type))
            .unwrap_or(1004),
        captcha_max_retries: fields
            .captcha_max_retries
            .or(base.as_ref().map(|b| b.captcha_max_retries))
            .unwrap_or(3),
        captcha_charset: match fields.captcha_charset {
            Some(c) if c.is_empty() => None,
            Some(c) => Some(c),
            None => base.as_ref().and_then(|b| b.captcha_charset.clone()),
        },
        solvers: fields
            .solvers
            .or(base.as_ref().map(|b| b.solvers.clone()))
            .unwrap_or_else(|| SOLVERS.iter().map(|s| s.to_string()).collect()),
        form_fields: fields
            .form_fields
            .or(base.as_ref().map(|b| b.form_fields.clone()))
            .unwrap_or_default(),
        success: fields
            .success
            .or(base.as_ref().map(|b| b.success.clone()))
            .unwrap_or_default(),
        captcha_error_marker: pick(
            fields.captcha_error_marker,
            base.as_ref().map(|b| b.captcha_error_marker.clone()),
            "验证码",
        ),
        expiry: fields
            .expiry
            .or(base.as_ref().map(|b| b.expiry.clone()))
            .unwrap_or_default(),
        heartbeat_path: pick(
            fields.heartbeat_path,
            base.as_ref().map(|b| b.heartbeat_path.clone()),
            "/api/heartbeat",
        ),
        keepalive_interval: fields
            .keepalive_interval
            .or(base.as_ref().map(|b| b.keepalive_interval))
            .unwrap_or(300),
        session_timeout: fields
            .session_timeout
            .or(base.as_ref().map(|b| b.session_timeout))
            .unwrap_or(3600),
        max_retries: fields
            .max_retries
            .or(base.as_ref().map(|b| b.max_retries))
            .unwrap_or(3),
        max_session_uses: fields
            .max_session_uses
            .or(base.as_ref().map(|b| b.max_session_uses))
            .unwrap_or(0),
        redis_key_prefix: match fields.redis_key_prefix {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p),
            None => base.as_ref().and_then(|b| b.redis_key_prefix.clone()),
        },
    };
    if settings.base_url.len() > 512 {
        errors.add(
            "base_url",
            msg("最多512个字符", "must be at most 512 characters"),
        );
    }
    match url::Url::parse(&settings.base_url) {
        Ok(u)
            if ["http", "https"].contains(&u.scheme())
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty() => {}
        _ => errors.add(
            "base_url",
            msg(
                "须为 http(s) 地址，不含查询参数和凭据",
                "must be an http(s) URL without query, fragment or credentials",
            ),
        ),
    }
    for (field, value) in [
        ("login_url", &settings.login_url),
        ("captcha_url", &settings.captcha_url),
        ("heartbeat_path", &settings.heartbeat_path),
    ] {
        if !path_ok(value) || value.len() > 512 {
            errors.add(
                field,
                msg(
                    "须为以 / 开头的路径",
                    "must be a path under base_url, starting with /",
                ),
            );
        }
    }
    if !(1..=99_999_999).contains(&settings.captcha_type) {
        errors.add(
            "captcha_type",
            msg("须为1-8位数字", "must be 1 to 99999999"),
        );
    }
    if settings.captcha_max_retries > 10 {
        errors.add(
            "captcha_max_retries",
            msg("不能超过10", "must be at most 10"),
        );
    }
    if settings
        .captcha_charset
        .as_ref()
        .is_some_and(|c| c.chars().count() > 256)
    {
        errors.add(
            "captcha_charset",
            msg("最多256个字符", "must be at most 256 characters"),
        );
    }
    if settings.solvers.is_empty()
        || settings
            .solvers
            .iter()
            .any(|s| !SOLVERS.contains(&s.as_str()))
        || (1..settings.solvers.len()).any(|i| settings.solvers[..i].contains(&settings.solvers[i]))
    {
        errors.add(
            "solvers",
            msg(
                "须为 chaojiying、local、manual 中不重复的若干项",
                "must list chaojiying, local and/or manual, each once",
            ),
        );
    }
    let form = &settings.form_fields;
    if [&form.user_no, &form.username, &form.password, &form.captcha]
        .iter()
        .any(|f| f.is_empty() || f.len() > 64)
        || form.extra.len() > 20
    {
        errors.add(
            "form_fields",
            msg(
                "字段名须为1-64个字符，固定字段最多20个",
                "field names must be 1 to 64 characters, at most 20 extra fields",
            ),
        );
    }
    if settings
        .success
        .status
        .is_some_and(|s| !(100..=599).contains(&s))
    {
        errors.add(
            "success",
            msg("状态码须在100-599之间", "status must be 100 to 599"),
        );
    }
    let success = &settings.success;
    if [
        &success.location_contains,
        &success.body_contains,
        &success.cookie,
    ]
    .iter()
    .any(|t| t.as_ref().is_some_and(|t| t.len() > 256))
    {
        errors.add(
            "success",
            msg("文本最多256个字符", "texts must be at most 256 characters"),
        );
    }
    if settings
        .expiry
        .body_contains
        .as_ref()
        .is_some_and(|t| t.len() > 256)
    {
        errors.add(
            "expiry",
            msg(
                "文本最多256个字符",
                "body_contains must be at most 256 characters",
            ),
        );
    }
    if settings.max_session_uses > 1_000_000 {
        errors.add(
            "max_session_uses",
            msg("不能超过1000000", "must be at most 1000000"),
        );
    }
    if settings.captcha_error_marker.len() > 256 {
        errors.add(
            "captcha_error_marker",
            msg("最多256个字符", "must be at most 256 characters"),
        );
    }
    if settings.captcha_error_marker.is_empty() {
        errors.add("captcha_error_marker", msg("不能为空", "must not be empty"));
    }
    if settings
        .expiry
        .statuses
        .iter()
        .any(|s| !(300..=599).contains(s))
    {
        errors.add(
            "expiry",
            msg("状态码须在300-599之间", "statuses must be 300 to 599"),
        );
    }
    if !(1..=86_400).contains(&settings.keepalive_interval) {
        errors.add(
            "keepalive_interval",
            msg("须为1-86400秒", "must be 1 to 86400 seconds"),
        );
    }
    if !(30..=7 * 86_400).contains(&settings.session_timeout) {
        errors.add(
            "session_timeout",
            msg("须为30-604800秒", "must be 30 to 604800 seconds"),
        );
    }
    if settings.max_retries > 10 {
        errors.add("max_retries", msg("不能超过10", "must be at most 10"));
    }
    if settings
        .redis_key_prefix
        .as_ref()
        .is_some_and(|p| p.len() > 128 || p.contains(char::is_whitespace))
    {
        errors.add(
            "redis_key_prefix",
            msg(
                "最多128个字符且不含空白",
                "must be at most 128 characters without spaces",
            ),
        );
    }
    match &fields.accounts {
        None if creating => errors.add(
            "accounts",
            msg("至少需要一个账号", "at least one account is required"),
        ),
        None => {}
        Some(list) => {
            if list.is_empty() || list.len() > 20 {
                errors.add(
                    "accounts",
                    msg("须为1-20个账号", "must be 1 to 20 accounts"),
                );
            }
            if list.iter().any(|a| {
                a.username.is_empty()
                    || a.password.is_empty()
                    || a.username.len() > 128
                    || a.password.len() > 256
                    || a.user_no.len() > 128
            }) {
                errors.add("accounts", msg("账号须有用户名和密码", "each account needs a username and a password (at most 128 and 256 characters)"));
            }
        }
    }
    errors.into_result()?;
    Ok(CheckedPlatform {
        name,
        enabled: fields.enabled.or(current.map(|c| c.1)).unwrap_or(true),
        settings,
        accounts: fields.accounts,
    })
}

/// The stored settings (written by [`apply`], so they always parse).
pub fn settings_of(stored: &serde_json::Value) -> AppResult<PlatformSettings> {
    serde_json::from_value(stored.clone()).map_err(AppError::internal)
}

/// The cache key prefix of a platform.
pub fn key_prefix(tenant_id: i64, name: &str, settings: &PlatformSettings) -> String {
    settings
        .redis_key_prefix
        .clone()
        .unwrap_or_else(|| format!("gateway:{tenant_id}:{name}:"))
}

/// Details naming the platform, for error envelopes.
pub fn details(name: &str) -> serde_json::Value {
    json!({ "platform": name })
}

#[cfg(test)]
mod tests;
