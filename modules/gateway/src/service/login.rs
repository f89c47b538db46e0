//! Logging in: fetch a captcha (with a random `t`), read it, post the login form with
//! the captcha's cookies, recognise success, store the session; a wrong captcha is
//! reported to its solver and retried with a fresh one (`captcha_max_retries`), a
//! refused password marks the account and is never retried.
//!
//! One login at a time per platform across every replica and the worker: the login
//! lease (`{prefix}login`). Whoever finds the session missing or expired takes the
//! lease or waits for the holder's session; the holder looks again under the lease
//! before logging in, so N processes finding one expired session make one login.
//! A failed login is remembered for a moment (`{prefix}login:failure`) so the waiters
//! answer with it instead of each trying again against the platform.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;
use shopops_kernel::lease::Lease;
use shopops_kernel::{AppError, AppResult, Kernel};

use super::http::{Answer, Outgoing};
use super::platforms::LoginSuccess;
use super::session::{Live, LoginInfo, Session};
use super::{solving, Account, Gateway, Platform};
use crate::error::Code;
use crate::store;

/// How long a failed login answers for the processes waiting on it.
const FAILURE_MEMORY: Duration = Duration::from_secs(10);

/// The live session, or a new one: `stale` is the session the caller found expired at
/// the platform (a stored session made at that time does not count as live).
pub async fn session(
    kernel: &Kernel,
    gateway: &Gateway,
    platform: &Platform,
    stale: Option<DateTime<Utc>>,
) -> AppResult<Live> {
    let fresh = |live: &Live| Some(live.session.created_at) != stale;
    if let Some(live) = platform.live_session(kernel).await? {
        if fresh(&live) {
            return Ok(live);
        }
    }
    let started = Utc::now();
    let wait = Duration::from_secs(gateway.config.login_wait_secs);
    let deadline = tokio::time::Instant::now() + wait;
    let lock = platform.key("login");
    loop {
        if let Some(failure) = recent_failure(kernel, platform, started).await? {
            return Err(failure);
        }
        if let Some(lease) = kernel.leases.try_acquire(&lock, wait).await? {
            let result = match platform.live_session(kernel).await {
                Ok(Some(live)) if fresh(&live) => Ok(live),
                Ok(_) => holding(kernel, &lease, login(kernel, gateway, platform, &lease)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = kernel.leases.release(&lease).await {
                tracing::warn!(platform = %platform.name, error = %e, "login lease not released; it lapses");
            }
            if let Err(e) = &result {
                remember_failure(kernel, platform, e).await;
            }
            return result;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(live) = platform.live_session(kernel).await? {
            if fresh(&live) {
                return Ok(live);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Code::PlatformUnavailable.err().with_details(json!({
                "platform": platform.name,
                "reason": format!("another process's login did not finish within {} s", wait.as_secs()),
            })));
        }
    }
}

/// Runs `work` while renewing `lease` every third of its ttl: a login waiting for a
/// person to read its captcha outlasts the lease otherwise.
async fn holding<T>(
    kernel: &Kernel,
    lease: &Lease,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut renew = tokio::time::interval(lease.ttl / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = renew.tick() => {
                if !matches!(kernel.leases.renew(lease).await, Ok(true)) {
                    tracing::warn!(lease = %lease.name, "login lease lost; the session will not be stored");
                }
            }
        }
    }
}

async fn remember_failure(kernel: &Kernel, platform: &Platform, e: &AppError) {
    let stored = json!({ "at": Utc::now(), "status": e.status.as_u16(), "error": e.to_stored() });
    let key = platform.key("login:failure");
    if let Err(err) = kernel
        .cache
        .cache
        .set(&key, &stored.to_string(), FAILURE_MEMORY)
        .await
    {
        tracing::warn!(error = %err, "login failure not shared");
    }
}

async fn recent_failure(
    kernel: &Kernel,
    platform: &Platform,
    since: DateTime<Utc>,
) -> AppResult<Option<AppError>> {
    let Some(raw) = kernel
        .cache
        .cache
        .get(&platform.key("login:failure"))
        .await?
    else {
        return Ok(None);
    };
    let Ok(stored) = serde_json::from_str::<serde_json::Value>(&raw) else {
        return Ok(None);
    };
    let at = stored["at"]
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok());
    let status = stored["status"]
        .as_u64()
        .and_then(|s| actix_web::http::StatusCode::from_u16(s as u16).ok());
    Ok(match (at, status) {
        (Some(at), Some(status)) if at >= since => {
            Some(AppError::from_stored(status, &stored["error"]))
        }
        _ => None,
    })
}

/// The first account not refused and not retired, in order; when every usable one is
/// retired, the least recently retired is taken anyway (a retirement is a rest, not a
/// ban).
async fn pick_account<'a>(kernel: &Kernel, platform: &'a Platform) -> AppResult<&'a Account> {
    let usable: Vec<&Account> = platform.accounts.iter().filter(|a| !a.refused).collect();
    for account in &usable {
        if !platform.is_retired(kernel, account.id).await? {
            return Ok(account);
        }
    }
    usable.first().copied().ok_or_else(|| {
        Code::ConfigurationError.err().with_details(json!({
            "platform": platform.name,
            "reason": "every account was refused by the platform; set new passwords",
        }))
    })
}

fn captcha_url(platform: &Platform) -> AppResult<url::Url> {
    let mut url = platform.url(&platform.settings.captcha_url)?;
    // The cache-buster platforms expect: milliseconds plus a random 1000–9999.
    let t = Utc::now().timestamp_millis() + rand::thread_rng().gen_range(1000..10_000);
    url.query_pairs_mut().append_pair("t", &t.to_string());
    Ok(url)
}

fn unavailable(platform: &Platform, reason: String, status: Option<u16>) -> AppError {
    Code::PlatformUnavailable.err().with_details(json!({
        "platform": platform.name, "reason": reason, "status": status
    }))
}

/// Logs in once (holding `lease`) and stores the session.
async fn login(
    kernel: &Kernel,
    gateway: &Gateway,
    platform: &Platform,
    lease: &Lease,
) -> AppResult<Live> {
    let account = pick_account(kernel, platform).await?;
    let settings = &platform.settings;
    let attempts = 1 + settings.captcha_max_retries;
    for attempt in 1..=attempts {
        let mut jar = BTreeMap::new();
        let url = captcha_url(platform)?;
        let image = gateway
            .send_retrying(&Outgoing::get(url.clone()))
            .await
            .map_err(|f| unavailable(platform, f.0, None))?;
        if image.status != 200 {
            return Err(unavailable(
                platform,
                "the captcha image was not served".into(),
                Some(image.status),
            ));
        }
        image.update_jar(&mut jar);
        let solution = match solving::solve(kernel, gateway, platform, &image.body, account.id)
            .await
        {
            Ok(s) => s,
            Err(unread) if unread.fresh_image_may_help && attempt < attempts => {
                tracing::info!(platform = %platform.name, attempt, "captcha unread; fetching a fresh one");
                continue;
            }
            Err(unread) => {
                gateway
                    .metrics
                    .logins
                    .with_label_values(&["captcha_failed"])
                    .inc();
                return Err(unread.error);
            }
        };
        let answer = post_form(gateway, platform, account, &solution.text, &jar).await?;
        answer.update_jar(&mut jar);
        if answer.status >= 500 {
            gateway
                .metrics
                .logins
                .with_label_values(&["unavailable"])
                .inc();
            return Err(unavailable(
                platform,
                "the login form failed".into(),
                Some(answer.status),
            ));
        }
        if succeeded(&settings.success, &answer, &settings.login_url) {
            gateway
                .metrics
                .captchas
                .with_label_values(&[solution.solver, "accepted"])
                .inc();
            gateway.metrics.logins.with_label_values(&["ok"]).inc();
            let now = Utc::now();
            let session = Session {
                cookies: jar,
                headers: BTreeMap::new(),
                created_at: now,
                last_accessed: now,
                expires_at: now + chrono::Duration::seconds(settings.session_timeout as i64),
                login_info: LoginInfo {
                    captcha_url: url.to_string(),
                    login_time: now,
                    account_id: account.id,
                    solver: solution.solver.to_string(),
                    attempts: attempt,
                    fence: lease.fence,
                },
            };
            if !platform.store_session(kernel, lease, &session).await? {
                return Err(unavailable(
                    platform,
                    "the login took longer than the login lease".into(),
                    None,
                ));
            }
            tracing::info!(platform = %platform.name, account = account.id, attempts = attempt, solver = solution.solver, "logged in");
            return Ok(Live {
                session,
                last_used: now,
            });
        }
        if answer.body_text().contains(&settings.captcha_error_marker) {
            gateway
                .metrics
                .captchas
                .with_label_values(&[solution.solver, "rejected"])
                .inc();
            if let Some(solver) = kernel.captcha.get(solution.solver) {
                solver.report_wrong(platform.tenant_id, &solution).await;
            }
            tracing::info!(platform = %platform.name, attempt, solver = solution.solver, "captcha refused by the platform");
            continue;
        }
        // Anything else is a refused password: never retried (a lockout loop against
        // the platform is worse than an alert and a person).
        gateway.metrics.logins.with_label_values(&["refused"]).inc();
        let reason = format!("login refused (status {})", answer.status);
        store::mark_refused(&kernel.db, platform.tenant_id, account.id, &reason).await?;
        platform.count_error(kernel).await?;
        tracing::error!(platform = %platform.name, account = account.id, status = answer.status, "platform refused the account's credentials; account marked");
        return Err(Code::AuthenticationFailed.err().with_details(json!({
            "platform": platform.name, "account_id": account.id
        })));
    }
    gateway
        .metrics
        .logins
        .with_label_values(&["captcha_failed"])
        .inc();
    Err(Code::CaptchaFailed.err().with_details(json!({
        "platform": platform.name, "attempts": attempts, "solvers": settings.solvers
    })))
}

async fn post_form(
    gateway: &Gateway,
    platform: &Platform,
    account: &Account,
    captcha: &str,
    jar: &BTreeMap<String, String>,
) -> AppResult<Answer> {
    let form = &platform.settings.form_fields;
    let mut fields: Vec<(&str, &str)> = vec![
        (&form.username, &account.username),
        (&form.password, account.password.expose_secret()),
        (&form.captcha, captcha),
    ];
    if !account.user_no.is_empty() {
        fields.insert(0, (&form.user_no, &account.user_no));
    }
    fields.extend(form.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let body = shopops_kernel::encoding::form(&fields);
    let request = Outgoing {
        method: Method::POST,
        url: platform.url(&platform.settings.login_url)?,
        headers: Default::default(),
        body: Some((
            body.into_bytes(),
            reqwest::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
        )),
    }
    .with_session(jar, &BTreeMap::new());
    gateway
        .send_retrying(&request)
        .await
        .map_err(|f| unavailable(platform, f.0, None))
}

/// Whether a login answer is a success by the platform's rule.
pub fn succeeded(rule: &LoginSuccess, answer: &Answer, login_url: &str) -> bool {
    let redirect = (300..400).contains(&answer.status);
    let any_rule = rule.status.is_some()
        || rule.location_contains.is_some()
        || rule.body_contains.is_some()
        || rule.cookie.is_some();
    if !any_rule {
        return redirect && answer.location().is_some_and(|l| !l.contains(login_url));
    }
    rule.status.is_none_or(|s| s == answer.status)
        && rule
            .location_contains
            .as_deref()
            .is_none_or(|t| answer.location().is_some_and(|l| l.contains(t)))
        && rule
            .body_contains
            .as_deref()
            .is_none_or(|t| answer.body_text().contains(t))
        && rule.cookie.as_deref().is_none_or(|c| answer.sets_cookie(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, LOCATION, SET_COOKIE};

    fn answer(
        status: u16,
        location: Option<&'static str>,
        body: &str,
        cookie: Option<&'static str>,
    ) -> Answer {
        let mut headers = HeaderMap::new();
        if let Some(l) = location {
            headers.insert(LOCATION, HeaderValue::from_static(l));
        }
        if let Some(c) = cookie {
            headers.insert(SET_COOKIE, HeaderValue::from_static(c));
        }
        Answer {
            status,
            headers,
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn success_by_default_is_a_redirect_away_from_the_login_page() {
        let rule = LoginSuccess::default();
        assert!(succeeded(
            &rule,
            &answer(302, Some("/index.php"), "", None),
            "/login.php"
        ));
        assert!(!succeeded(
            &rule,
            &answer(302, Some("/login.php?err=1"), "", None),
            "/login.php"
        ));
        assert!(!succeeded(
            &rule,
            &answer(200, None, "验证码错误", None),
            "/login.php"
        ));
    }

    #[test]
    fn every_given_rule_must_hold() {
        let rule = LoginSuccess {
            status: Some(200),
            body_contains: Some("\"code\":0".into()),
            cookie: Some("SID".into()),
            ..Default::default()
        };
        assert!(succeeded(
            &rule,
            &answer(200, None, "{\"code\":0}", Some("SID=1")),
            "/login"
        ));
        assert!(!succeeded(
            &rule,
            &answer(200, None, "{\"code\":0}", None),
            "/login"
        ));
        assert!(!succeeded(
            &rule,
            &answer(200, None, "{\"code\":1}", Some("SID=1")),
            "/login"
        ));
        assert!(!succeeded(
            &rule,
            &answer(302, None, "{\"code\":0}", Some("SID=1")),
            "/login"
        ));
    }
}
