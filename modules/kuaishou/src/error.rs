//! The Kuaishou module's error codes, and helpers for the ones raised in more than one
//! place. Refusals that are the kernel's (`RESOURCE_NOT_FOUND` for a shop of another
//! tenant, `VALIDATION_ERROR`, `INVALID_REQUEST_BODY`, `BAD_GATEWAY` …) come from
//! `shopops_kernel::error::Code` and its helpers.

use serde_json::json;
use shopops_kernel::error::Localized;
use shopops_kernel::AppError;

shopops_kernel::error_codes! {
    /// The Kuaishou module's codes.
    pub enum Code {
        /// (Kuaishou) The OAuth callback's `state` is unknown, already used or older than
        /// 10 minutes. Start the authorisation again (`GET /kuaishou/shops/authorize-url`).
        InvalidOauthState = (400, "INVALID_OAUTH_STATE", "授权链接未知、已使用或已过期，请重新发起授权", "this authorisation link is unknown, used or expired; start again"),
        /// (Kuaishou) The OAuth callback has no `code`. Start the authorisation again.
        InvalidOauthCallback = (400, "INVALID_OAUTH_CALLBACK", "授权回调缺少 code", "the callback has no code"),
        /// (Kuaishou) The seller declined to authorise the shop (the platform's callback
        /// carries `error`). Details: `error`. Start the authorisation again.
        AuthorisationDeclined = (400, "KUAISHOU_AUTHORISATION_DECLINED", "卖家未授权该店铺", "the seller did not authorise the shop"),
        /// (Kuaishou push) The body is not JSON, not Base64, cannot be decrypted with
        /// `KUAISHOU_MSG_SECRET`, or has no `msgId`/`eventId`; the message says which.
        InvalidWebhookBody = (400, "INVALID_WEBHOOK_BODY", "推送消息无法读取", "the pushed message cannot be read"),
        /// (Kuaishou) A method name that is not in the catalogue (`shopops kuaishou
        /// methods`). Details: `method`, `hint`.
        UnknownMethod = (400, "KUAISHOU_UNKNOWN_METHOD", "`{method}` 不是快手开放平台的接口", "`{method}` is not a Kuaishou method"),
        /// (Kuaishou push) `X-Kuaishou-Signature` or `X-Kuaishou-Timestamp` is missing, or
        /// the signature is not the HMAC-SHA256 (hex) of `"{X-Kuaishou-Timestamp}.{body}"`
        /// with `KUAISHOU_WEBHOOK_SECRET`.
        InvalidWebhookSignature = (401, "INVALID_WEBHOOK_SIGNATURE", "推送消息签名无效", "the push signature is missing or does not match"),
        /// (Kuaishou push) `X-Kuaishou-Timestamp` is more than 300 s away from the
        /// server's clock: replays are refused. Details: `tolerance_secs`.
        WebhookTimestampOutOfWindow = (401, "WEBHOOK_TIMESTAMP_OUT_OF_WINDOW", "推送消息的时间戳与服务器时间相差超过 {tolerance_secs} 秒，已拒绝（防止重放）", "the message is more than {tolerance_secs} s old or from the future; replays are refused"),
        /// (Kuaishou) The shop was disconnected (or has no refresh token): authorise it
        /// again.
        ShopRevoked = (409, "KUAISHOU_SHOP_REVOKED", "该店铺已断开连接，请重新授权", "this shop was disconnected; authorise it again"),
        /// (Kuaishou) The platform throttles this app. Details: `retry_after`; header
        /// `Retry-After`.
        RateLimited = (429, "KUAISHOU_RATE_LIMITED", "快手开放平台正在限流，请稍后重试", "the platform throttles this app; retry later"),
        /// (Kuaishou) The platform refused a token exchange or refresh, or its answer
        /// lacked what we need (`refresh_token`, `open_id`). Details: `status`, `error`,
        /// `reason`. A refused refresh marks the shop `refresh_failed` in
        /// `GET /kuaishou/shops`.
        OauthFailed = (502, "KUAISHOU_OAUTH_FAILED", "快手开放平台拒绝了授权", "the platform refused the authorisation"),
        /// (Kuaishou) The platform refused a call. Details: `platform_code`,
        /// `platform_message`, `sub_code`.
        ApiError = (502, "KUAISHOU_API_ERROR", "快手开放平台拒绝了该调用", "the platform refused the call"),
        /// (Kuaishou) The platform still rejects the shop's token after one refresh, or
        /// the shop holds no usable token. Details: `platform_code`, `platform_message`.
        TokenInvalid = (502, "KUAISHOU_TOKEN_INVALID", "店铺的授权已失效", "the shop's authorisation is no longer valid"),
        /// (Kuaishou) The platform answered success, but its `data` does not have the
        /// documented shape of the method's typed answer. Details: `method`, `reason` (the
        /// field and what was wrong).
        UnexpectedAnswer = (502, "KUAISHOU_UNEXPECTED_ANSWER", "快手开放平台的应答与文档描述的结构不符", "the platform's answer does not have the documented shape"),
        /// (Kuaishou) The Kuaishou app credentials (or, for message push, the webhook or
        /// message secret) are not set. Details: `missing` (the variables).
        NotConfigured = (503, "KUAISHOU_NOT_CONFIGURED", "快手应用未配置", "the Kuaishou app is not configured"),
    }
}

/// 503 `KUAISHOU_NOT_CONFIGURED`; `missing` names the variables to set.
pub fn not_configured(missing: &[&str]) -> AppError {
    Code::NotConfigured
        .err()
        .with_details(json!({ "missing": missing }))
}

/// 502 `KUAISHOU_OAUTH_FAILED`: the platform's HTTP status, its `error` when it gave
/// one, and why the answer is a refusal.
pub fn oauth_failed(status: u16, error: Option<String>, reason: String) -> AppError {
    Code::OauthFailed
        .err()
        .with_details(json!({ "status": status, "error": error, "reason": reason }))
}

/// 409 `KUAISHOU_SHOP_REVOKED`.
pub fn shop_revoked() -> AppError {
    Code::ShopRevoked.err()
}

/// 400 `KUAISHOU_UNKNOWN_METHOD`, pointing at the command that lists the methods.
pub fn unknown_method(method: &str) -> AppError {
    Code::UnknownMethod
        .err()
        .with_details(json!({ "method": method, "hint": "shopops kuaishou methods" }))
}

/// 400 `INVALID_WEBHOOK_BODY`, saying what is wrong with the message.
pub fn webhook_body(message: Localized) -> AppError {
    Code::InvalidWebhookBody.err().with_message(message)
}

/// 401 `INVALID_WEBHOOK_SIGNATURE`, saying what is wrong with the signature.
pub fn webhook_signature(message: Localized) -> AppError {
    Code::InvalidWebhookSignature.err().with_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_kernel::error::{Catalogue, ErrorBody, Lang};

    #[test]
    fn the_table_passes_the_kernels_checks_and_fills_its_messages() {
        let ours = Catalogue {
            owner: "kuaishou",
            codes: Code::ALL,
        };
        shopops_kernel::error::catalogue::check(&[shopops_kernel::error::CATALOGUE, ours])
            .unwrap_or_else(|e| panic!("{e}"));
        let err = unknown_method("open.no.such");
        let body = ErrorBody {
            code: err.code.clone(),
            message: err.message.clone(),
            details: (*err.details).clone(),
        };
        assert_eq!(
            body.render(Lang::En).0,
            "`open.no.such` is not a Kuaishou method"
        );
        assert_eq!(err.status.as_u16(), 400);
    }
}
