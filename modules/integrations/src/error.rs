//! The module's error codes (its part of the catalogue, `docs/errors.md`) and the
//! helpers that build them with their details. Not-found, validation and dependency
//! failures are the kernel's codes (`RESOURCE_NOT_FOUND`, `VALIDATION_ERROR`,
//! `SERVICE_UNAVAILABLE`).

use serde_json::{json, Value};
use shopops_kernel::error::Localized;
use shopops_kernel::AppError;

use crate::manager::Failure;
use crate::providers::ProviderError;

shopops_kernel::error_codes! {
    /// The integrations module's codes.
    pub enum Code {
        /// `pic_id` of a captcha report is not `<provider>:<id>` as `/captcha/recognize`
        /// returned it.
        InvalidPicId = (400, "INVALID_PIC_ID", "pic_id 应为识别接口返回的 `<服务商>:<编号>`", "pic_id is `<provider>:<id>` as recognize returned it"),
        /// A local-store presigned URL whose signature does not match its method, key and
        /// expiry, or that has expired. Ask for a new one with `POST /storage/presign`.
        InvalidSignedUrl = (403, "INVALID_SIGNED_URL", "该链接无效或已过期", "this URL is not valid (or no longer)"),
        /// This captcha answer was reported wrong before; the provider refunds once.
        CaptchaAlreadyReported = (409, "CAPTCHA_ALREADY_REPORTED", "该识别结果已报告过错误", "this answer was already reported wrong"),
        /// This `out_trade_no` is already used by another tenant, or by a payment that has
        /// moved on. Not an error: a retry of a create that did not finish (the payment
        /// `creating`, `failed`, `unknown` or `pending`) — that continues it or returns
        /// the existing payment.
        OutTradeNoTaken = (409, "OUT_TRADE_NO_TAKEN", "该 out_trade_no 已被使用", "this out_trade_no is already used"),
        /// This `out_refund_no` is already used by another tenant or another payment, or
        /// with another amount. Not an error: the same `out_refund_no` on the same payment
        /// with the same amount — that continues the refund or returns it.
        OutRefundNoTaken = (409, "OUT_REFUND_NO_TAKEN", "该 out_refund_no 已被使用", "this out_refund_no is already used"),
        /// This SMS `message_id` is already used by another tenant. Not an error: the same
        /// `message_id` in the same tenant returns the stored message.
        MessageIdTaken = (409, "MESSAGE_ID_TAKEN", "该 message_id 已被使用", "this message_id is already used"),
        /// Only a `pending` payment can be closed. Details: `status`. Nothing was sent to
        /// the provider.
        PaymentNotOpen = (409, "PAYMENT_NOT_OPEN", "只有待支付的订单可以关闭", "only a pending payment can be closed"),
        /// Only a `paid` or `partially_refunded` payment can be refunded. Details:
        /// `status`. Nothing was sent to the provider.
        PaymentNotPaid = (409, "PAYMENT_NOT_PAID", "只有已支付的订单可以退款", "only a paid payment can be refunded"),
        /// The refund is more than what is left of the payment. Details: `refundable`
        /// (fen). Nothing was sent to the provider.
        RefundExceedsPayment = (409, "REFUND_EXCEEDS_PAYMENT", "退款金额超过订单剩余可退金额", "the refund is more than what is left of the payment"),
        /// The payment provider refused to create the payment (wrong parameters, an
        /// amount it does not accept …); another provider would refuse it too, so none
        /// was tried. Details: `provider`, `provider_code`, `provider_message` (theirs,
        /// e.g. `PARAM_ERROR`).
        PaymentRejected = (422, "PAYMENT_REJECTED", "支付服务商 {provider} 拒绝了该请求", "the payment provider {provider} refused the request"),
        /// The provider refused the request itself (unknown SMS template, invalid number,
        /// refund not allowed, unknown order …); another provider would refuse it too, so
        /// none was tried. Details: `provider`, `provider_code`, `provider_message`
        /// (theirs, e.g. `InvalidParameterValue.IncorrectPhoneNumber`,
        /// `ACQ.TRADE_NOT_EXIST`).
        ProviderRejected = (422, "PROVIDER_REJECTED", "服务商 {provider} 拒绝了该请求", "the provider {provider} refused the request"),
        /// A provider change through `PUT /providers/{capability}/{name}` leaves a
        /// configuration that does not build. Details: `reason` (names the key). The change
        /// is stored, and the previous providers stay in force until the configuration
        /// builds again (see `GET /health`, `reload_error`).
        IntegrationsConfigInvalid = (422, "INTEGRATIONS_CONFIG_INVALID", "集成配置无效：{reason}", "the integrations configuration is invalid: {reason}"),
        /// This phone number already got `sms_phone_throttle.per_minute` (default 1) or
        /// `per_day` (10) messages. Details: `limit`, `window` (`minute`/`day`),
        /// `retry_after`. Nothing was stored or sent.
        SmsThrottled = (429, "SMS_THROTTLED", "该号码短信发送过于频繁，请稍后再试", "this number already got {limit} message(s) this {window}"),
        /// No provider can take the payment now: none configured or enabled offers the
        /// channel, or every one is down or has its circuit open. Details: `reason`,
        /// `tried` (`[{provider, error}]`), `retry_after`. No order exists at any provider.
        PaymentServiceUnavailable = (503, "PAYMENT_SERVICE_UNAVAILABLE", "支付服务暂时不可用，请稍后重试", "payment is unavailable right now; retry later"),
        /// A provider took the request but did not answer, and asking it did not settle
        /// whether the order exists. It was not sent to another provider. Details:
        /// `provider`, `reason`, `retry_after`. Retry with the same `Idempotency-Key` (or
        /// look at `GET /payments/{id}?refresh=true`): the same `out_trade_no` goes to the
        /// same provider.
        PaymentOutcomeUnknown = (503, "PAYMENT_OUTCOME_UNKNOWN", "{provider} 未答复是否已受理该支付；未转交其他服务商，请使用相同的 Idempotency-Key 重试", "{provider} did not say whether it took the payment; it was not sent elsewhere — retry with the same Idempotency-Key"),
        /// The provider of a payment (query, close, refund), of an SMS (delivery report)
        /// or of a captcha answer (report) is unavailable or no longer configured.
        /// Details: `provider`, `reason`, `retry_after`.
        ProviderUnavailable = (503, "PROVIDER_UNAVAILABLE", "{provider} 暂时不可用，请稍后重试", "{provider} is unavailable right now; retry later"),
        /// Every store is unavailable, or none is configured. Details: `tried`
        /// (`[{provider, error}]`) or `provider` + `reason`, and `retry_after`. Also the
        /// answer to a read that found nothing where it could look while a store that
        /// may hold the object was down: it may be there.
        StorageUnavailable = (503, "STORAGE_UNAVAILABLE", "存储暂时不可用，请稍后重试", "storage is unavailable right now; retry later"),
        /// Every captcha provider is unavailable, or none is configured. Details: `tried`
        /// (`[{provider, error}]`) or `provider` + `reason`, and `retry_after`.
        CaptchaUnavailable = (503, "CAPTCHA_UNAVAILABLE", "验证码识别暂时不可用，请稍后重试", "captcha recognition is unavailable right now; retry later"),
    }
}

/// `[{provider, error}]`: what each provider tried said.
fn tried_list(tried: &[(String, String)]) -> Value {
    tried
        .iter()
        .map(|(p, e)| json!({ "provider": p, "error": e }))
        .collect()
}

/// The payment fallback: no provider can take the payment now.
pub fn payment_unavailable(tried: &[(String, String)], reason: Localized) -> AppError {
    Code::PaymentServiceUnavailable.err().with_details(
        json!({ "reason": reason.to_value(), "tried": tried_list(tried), "retry_after": 30 }),
    )
}

/// A payment write whose result at the provider is unknown: not sent elsewhere.
pub fn outcome_unknown(provider: &str, reason: &str) -> AppError {
    Code::PaymentOutcomeUnknown
        .err()
        .with_details(json!({ "provider": provider, "reason": reason, "retry_after": 30 }))
}

/// The provider refused the request itself (`PAYMENT_REJECTED` or `PROVIDER_REJECTED`).
pub fn rejected(code: Code, provider: &str, provider_code: &str, message: &str) -> AppError {
    code.err().with_details(
        json!({ "provider": provider, "provider_code": provider_code, "provider_message": message }),
    )
}

/// One named provider failed (queries, closes, refunds go to the payment's provider).
pub fn provider_error(provider: &str, e: ProviderError) -> AppError {
    match e {
        ProviderError::Rejected { code, message } => {
            rejected(Code::ProviderRejected, provider, &code, &message)
        }
        ProviderError::Unavailable(reason) | ProviderError::Ambiguous(reason) => {
            Code::ProviderUnavailable
                .err()
                .with_details(json!({ "provider": provider, "reason": reason, "retry_after": 30 }))
        }
    }
}

/// A failover call that found no provider (`code`: `STORAGE_UNAVAILABLE` or
/// `CAPTCHA_UNAVAILABLE`).
pub fn failure(code: Code, f: Failure) -> AppError {
    match f {
        Failure::Rejected {
            provider,
            code: provider_code,
            message,
        } => rejected(Code::ProviderRejected, &provider, &provider_code, &message),
        Failure::NoProvider => code
            .err()
            .with_message(Localized::fixed(
                "没有已配置并启用的服务商",
                "no provider is configured and enabled",
            ))
            .with_details(json!({ "retry_after": 60 })),
        Failure::AllUnavailable { tried } => code
            .err()
            .with_details(json!({ "tried": tried_list(&tried), "retry_after": 30 })),
        Failure::Ambiguous { provider, message } => code
            .err()
            .with_message(Localized::fixed(
                "{provider} 未及时答复",
                "{provider} did not answer in time",
            ))
            .with_details(json!({ "provider": provider, "reason": message, "retry_after": 30 })),
    }
}

#[cfg(test)]
mod tests {
    use shopops_kernel::error::catalogue::{check, fill};
    use shopops_kernel::error::Catalogue;

    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        let table = Catalogue {
            owner: "integrations",
            codes: Code::ALL,
        };
        assert_eq!(check(&[table, shopops_kernel::error::CATALOGUE]), Ok(()));
    }

    #[test]
    fn messages_name_the_details_they_are_given() {
        let e = provider_error("wechatpay", ProviderError::Unavailable("timeout".into()));
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
        assert_eq!(
            fill(&e.message.en, &e.details),
            "wechatpay is unavailable right now; retry later"
        );
        let e = failure(
            Code::StorageUnavailable,
            Failure::Ambiguous {
                provider: "cos".into(),
                message: "no answer".into(),
            },
        );
        assert_eq!(fill(&e.message.zh, &e.details), "cos 未及时答复");
        let e = rejected(Code::PaymentRejected, "alipay", "ACQ.X", "no");
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(
            fill(&e.message.en, &e.details),
            "the payment provider alipay refused the request"
        );
    }
}
