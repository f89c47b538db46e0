//! The gateway's error codes (its part of the catalogue, shown in docs/errors.md): the
//! gateway's failure kinds as envelope codes (docs/gateway.md "Errors").

shopops_kernel::error_codes! {
    /// The gateway module's codes.
    pub enum Code {
        /// The platform refused the account's user name or password. The account is
        /// marked `auth_failed` and never retried (no lockout loop); an alert fires. Set a
        /// new password with `PATCH /gateway/platforms/{id}`. Details: `platform`,
        /// `account_id`.
        AuthenticationFailed = (502, "GATEWAY_AUTHENTICATION_FAILED", "平台拒绝了账号或密码", "the platform refused the account's credentials"),
        /// The platform still said the session expired after one fresh login. Details:
        /// `platform`.
        SessionExpired = (502, "GATEWAY_SESSION_EXPIRED", "平台会话已过期且刷新失败", "the platform session expired and refreshing it did not help"),
        /// The platform could not be reached, timed out, or answered 5xx after every
        /// retry (network 1, 2, 4 s; 5xx 5, 10, 20 s), or another process's login did not
        /// finish in time. Details: `platform`, `reason`, `status` when it answered.
        PlatformUnavailable = (503, "GATEWAY_PLATFORM_UNAVAILABLE", "平台暂不可用", "the platform is unavailable"),
        /// No solver read a captcha the platform accepted within `captcha_max_retries`
        /// fresh captchas, or no solver in the platform's order is available. Details:
        /// `platform`, `attempts`, `solvers`.
        CaptchaFailed = (502, "GATEWAY_CAPTCHA_FAILED", "验证码识别失败", "no captcha answer was accepted"),
        /// The platform answered with an error status the gateway does not handle itself
        /// (4xx other than the expiry statuses, or 429). Details: `platform`, `status`.
        PlatformError = (502, "GATEWAY_PLATFORM_ERROR", "平台返回错误", "the platform answered with an error"),
        /// The platform's configuration cannot work: disabled, no usable account, a path
        /// outside its `base_url`. Details: `platform`, `reason`.
        ConfigurationError = (422, "GATEWAY_CONFIGURATION_ERROR", "平台配置错误", "the platform configuration cannot be used"),
        /// The tenant has a platform of that name already. Details: `name`.
        NameTaken = (409, "GATEWAY_PLATFORM_NAME_TAKEN", "已存在同名平台", "a platform with this name exists"),
        /// The captcha is no longer waiting for an answer (answered, used or expired).
        /// Details: `status`.
        CaptchaNotPending = (409, "GATEWAY_CAPTCHA_NOT_PENDING", "该验证码已不在等待回答", "this captcha is no longer waiting for an answer"),
    }
}
