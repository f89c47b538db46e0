//! The kernel's error codes: the framework's refusals (unreadable requests, unknown
//! routes, limits), identity and access, idempotency, and dependencies.

crate::error_codes! {
    /// The kernel's codes.
    pub enum Code {
        /// The body is not valid JSON. Details: `line`, `column`. Fix the JSON.
        MalformedJson = (400, "MALFORMED_JSON", "请求体不是有效的 JSON", "the request body is not valid JSON"),
        /// Valid JSON of the wrong shape: wrong type, missing field, unknown field (bodies
        /// reject fields they do not define — the tenant, for example, always comes from the
        /// token), unknown enum value, a number outside its type. Details: `reason` (the
        /// parser's words, naming the field), `line`, `column`.
        InvalidRequestBody = (400, "INVALID_REQUEST_BODY", "请求体与接口定义不符", "the request body does not match the expected schema"),
        /// A query parameter has the wrong type or value (e.g. `limit=abc`, `limit=0`).
        /// Details: `reason` or `field`, `min`, `max`.
        InvalidQuery = (400, "INVALID_QUERY", "查询参数无效", "a query parameter is invalid"),
        /// A path segment has the wrong type (e.g. `/users/abc`). Details: `reason`.
        InvalidPathParameter = (400, "INVALID_PATH_PARAMETER", "路径参数无效", "a path parameter is invalid"),
        /// `cursor` is not one this API issued. Details: `field`. Start again without a
        /// cursor.
        InvalidCursor = (400, "INVALID_CURSOR", "分页游标无效", "the cursor is not one this API issued"),
        /// The `Idempotency-Key` header is empty, longer than 255 characters or not ASCII.
        InvalidIdempotencyKey = (400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key 必须是 1 到 255 个可见 ASCII 字符", "Idempotency-Key must be 1 to 255 visible ASCII characters"),
        /// `POST /auth/logout` with an API token; revoke the token instead.
        NotASession = (400, "NOT_A_SESSION", "API 令牌没有会话可退出，请吊销该令牌", "an API token has no session to end; revoke the token instead"),
        /// Any other unreadable request.
        BadRequest = (400, "BAD_REQUEST", "无法理解该请求", "the request could not be understood"),
        /// No, malformed, forged, expired or revoked token. Details: `token_expired`
        /// (bool), `reason` (`missing_token`, `invalid_token`, `session_revoked`,
        /// `unknown_api_token`, `api_token_revoked`, `refresh_token_reused`,
        /// `refresh_token_expired`, …); for an expired access token also `expiry_time` and
        /// `refresh_token_available: true`. With `token_expired: true` call
        /// `POST /api/v1/auth/refresh`; otherwise sign in again. `refresh_token_reused`
        /// means a rotated refresh token was presented again: the whole session was
        /// revoked as a precaution.
        InvalidToken = (401, "INVALID_TOKEN", "身份令牌无效或已过期", "the token is missing, invalid or expired"),
        /// Tenant, username or password is wrong (deliberately not saying which). Each
        /// failure counts towards the lockout.
        InvalidCredentials = (401, "INVALID_CREDENTIALS", "租户、用户名或密码错误", "tenant, username or password is wrong"),
        /// The caller lacks a permission. Details: `required_permissions`,
        /// `user_permissions` (the caller's effective permissions), `missing_permissions`.
        /// Ask an administrator for a role that has it (or, for an API token, a token with
        /// that scope).
        InsufficientPermissions = (403, "INSUFFICIENT_PERMISSIONS", "没有执行此操作的权限", "you do not have permission to perform this action"),
        /// The credentials are right but the account is deactivated.
        AccountDisabled = (403, "ACCOUNT_DISABLED", "账号已停用", "this account is disabled"),
        /// No such path. Check the path against `/openapi.json`.
        RouteNotFound = (404, "ROUTE_NOT_FOUND", "没有这个接口路径", "no such route"),
        /// No such resource in your tenant. A resource of another tenant is also 404,
        /// never 403. Details: `resource`; for an unknown alert rule also `valid_rules`.
        ResourceNotFound = (404, "RESOURCE_NOT_FOUND", "未找到该资源（{resource}）", "{resource} not found"),
        /// `POST /alerts/channels/{name}/test` for a channel that is not configured (or not
        /// one of `email`, `wecom`, `dingtalk`, `feishu`, `webhook`). Details:
        /// `configured_channels`.
        ChannelNotConfigured = (404, "CHANNEL_NOT_CONFIGURED", "该告警渠道未配置", "this alert channel is not configured"),
        /// The path exists but not with this method.
        MethodNotAllowed = (405, "METHOD_NOT_ALLOWED", "该路径不支持此请求方法", "method not allowed on this route"),
        /// The request did not arrive in time (`SHOPOPS_HEADER_READ_TIMEOUT_SECS`).
        ClientTimeout = (408, "CLIENT_TIMEOUT", "请求未能及时送达", "the request took too long to arrive"),
        /// The username exists in this tenant. Details: `field`.
        UsernameTaken = (409, "USERNAME_TAKEN", "该用户名已存在", "this username is taken"),
        /// A tenant with this code exists. Details: `field`.
        TenantCodeTaken = (409, "TENANT_CODE_TAKEN", "该租户代码已存在", "a tenant with this code exists"),
        /// Users cannot delete their own account.
        CannotDeleteSelf = (409, "CANNOT_DELETE_SELF", "不能删除自己的账号", "you cannot delete your own account"),
        /// A request with this `Idempotency-Key` is still running. Details:
        /// `idempotency_key`, `retry_after` (seconds). Retry the same request after a
        /// moment: it will replay the result.
        IdempotencyKeyInProgress = (409, "IDEMPOTENCY_KEY_IN_PROGRESS", "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试", "a request with this Idempotency-Key is still being processed; retry shortly"),
        /// A replay (same `Idempotency-Key`, same body) of a request whose answer showed a
        /// secret once — `POST /api-tokens`. The first request succeeded; the secret is
        /// never stored, so it cannot be shown again. Details: `idempotency_key`,
        /// `created` (the token as listed, with its `id`). If the first answer was lost,
        /// revoke that token and create another.
        SecretNotReplayed = (409, "SECRET_NOT_REPLAYED", "首次请求已成功；其中的密钥只显示一次，无法再次显示（如已丢失，请吊销后重新创建）", "the first request with this Idempotency-Key succeeded; the secret it showed is not kept, so it cannot be shown again (revoke it and create another if it was lost)"),
        /// The body is over `SHOPOPS_MAX_BODY_BYTES` (default 1 MiB). Details:
        /// `limit_bytes`.
        PayloadTooLarge = (413, "PAYLOAD_TOO_LARGE", "请求体超过 {limit_bytes} 字节", "the request body exceeds {limit_bytes} bytes"),
        /// The request line is longer than the server reads (8 KiB). Details:
        /// `limit_bytes`. Put long inputs in a body.
        UriTooLong = (414, "URI_TOO_LONG", "请求地址过长", "the request URI is too long"),
        /// JSON endpoints need `Content-Type: application/json`.
        UnsupportedMediaType = (415, "UNSUPPORTED_MEDIA_TYPE", "不支持的内容类型，请使用 application/json", "unsupported content type; send application/json"),
        /// Field rules failed. Details: `field_errors` (`{field: [message, …]}`; nested
        /// fields as `admin.password`); some endpoints add hints such as `valid_scopes`
        /// (their pages in the docs say which). Validation failures are never stored
        /// under an `Idempotency-Key`: fix the body and retry with the same key.
        ///
        /// Passwords (users, tenant admins, `shopops admin create`) get one message per
        /// rule they break: 8–128 characters; not only whitespace; no control characters;
        /// not the username; not too easy to guess — zxcvbn's estimate (common passwords,
        /// dictionary words, keyboard walks, dates, repeats, l33t, the username) must
        /// reach score 2 (about 10⁶ guesses).
        ValidationError = (422, "VALIDATION_ERROR", "请求数据未通过校验", "request data failed validation"),
        /// This `Idempotency-Key` was used with a different body. Details:
        /// `idempotency_key`. Use a new key for a new request.
        IdempotencyKeyReused = (422, "IDEMPOTENCY_KEY_REUSED", "该 Idempotency-Key 已用于另一个请求体", "this Idempotency-Key was used with a different request body"),
        /// Too many failed sign-ins for this username (default 5 → locked 15 minutes).
        /// Details: `retry_after` (seconds); header `Retry-After`.
        AccountLocked = (429, "ACCOUNT_LOCKED", "登录失败次数过多，账号暂时锁定", "too many failed sign-ins; the account is locked for a while"),
        /// Too many requests in the current one-hour window. Details: `limit`,
        /// `window_secs`, `scope` (`anonymous` = per client IP, `login` = sign-in per
        /// client IP, `user` = per user or API token, or the name of a module's bucket),
        /// `retry_after` (seconds until the window resets); header
        /// `Retry-After`. Every counted response also carries `X-RateLimit-Limit`,
        /// `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
        RateLimitExceeded = (429, "RATE_LIMIT_EXCEEDED", "请求过于频繁，请稍后再试", "too many requests; slow down"),
        /// Request headers are larger than the server reads (32 KiB in all). Details:
        /// `limit_bytes`.
        HeadersTooLarge = (431, "HEADERS_TOO_LARGE", "请求头过大", "the request headers are too large"),
        /// An unexpected fault (including a caught panic). Details: `error_id` (quote it:
        /// the server log has the cause under that id), `retry_after`. Nothing internal is
        /// in the response.
        InternalServerError = (500, "INTERNAL_SERVER_ERROR", "服务器内部错误，请稍后重试", "internal server error, please retry later"),
        /// A channel test notice was not delivered. Details: `channel`, `error` (the SMTP
        /// error, the HTTP status, or the robot's own refusal such as DingTalk `310000` for
        /// a wrong signing secret).
        ChannelDeliveryFailed = (502, "CHANNEL_DELIVERY_FAILED", "告警渠道 {channel} 发送失败", "the {channel} channel did not deliver the notice"),
        /// An outside system could not be reached or answered wrongly. Details:
        /// `dependency`.
        BadGateway = (502, "BAD_GATEWAY", "外部服务调用失败", "an upstream service failed"),
        /// A dependency (database, Redis, or an outside system whose circuit breaker is
        /// open) is unavailable. Details: `dependency`, `retry_after`; header `Retry-After`.
        /// `/readyz` and `GET /api/v1/ops/outside-targets` show which.
        ServiceUnavailable = (503, "SERVICE_UNAVAILABLE", "{dependency} 暂时不可用，请稍后重试", "{dependency} is unavailable, retry later"),
        /// The server did not finish the request within `SHOPOPS_REQUEST_TIMEOUT_SECS`
        /// (default 60). Details: `timeout_secs`, `retry_after`. The work was rolled back.
        RequestTimeout = (503, "REQUEST_TIMEOUT", "请求处理超时", "the request took too long to process"),
        /// An outside system did not answer in time. Details: `dependency`.
        GatewayTimeout = (504, "GATEWAY_TIMEOUT", "外部服务响应超时", "an upstream service timed out"),
    }
}
