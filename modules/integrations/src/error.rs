//! The module's errors, as the kernel's envelope (`docs/errors.md`).

use actix_web::http::StatusCode;
use serde_json::json;
use shopops_kernel::AppError;

use crate::manager::Failure;
use crate::providers::ProviderError;

/// Seed 002's payment fallback: no provider can take the payment now.
pub fn payment_unavailable(tried: &[(String, String)], message: String) -> AppError {
    AppError::new(StatusCode::SERVICE_UNAVAILABLE, "PAYMENT_SERVICE_UNAVAILABLE", "payment is unavailable right now; retry later")
        .with_details(json!({ "reason": message, "tried": tried.iter().map(|(p, e)| json!({ "provider": p, "error": e })).collect::<Vec<_>>(), "retry_after": 30 }))
}

/// A payment write whose result at the provider is unknown: not sent elsewhere.
pub fn outcome_unknown(provider: &str, message: &str) -> AppError {
    AppError::new(StatusCode::SERVICE_UNAVAILABLE, "PAYMENT_OUTCOME_UNKNOWN", "the provider did not say whether it took the payment; it was not sent elsewhere — retry with the same Idempotency-Key")
        .with_details(json!({ "provider": provider, "reason": message, "retry_after": 30 }))
}

/// The provider refused the request itself.
pub fn rejected(
    code: &'static str,
    provider: &str,
    provider_code: &str,
    message: &str,
) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, "the provider refused the request")
        .with_details(json!({ "provider": provider, "provider_code": provider_code, "provider_message": message }))
}

/// One named provider failed (queries, closes, refunds go to the payment's provider).
pub fn provider_error(provider: &str, e: ProviderError) -> AppError {
    match e {
        ProviderError::Rejected { code, message } => {
            rejected("PROVIDER_REJECTED", provider, &code, &message)
        }
        ProviderError::Unavailable(reason) | ProviderError::Ambiguous(reason) => AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PROVIDER_UNAVAILABLE",
            format!("{provider} is unavailable right now; retry later"),
        )
        .with_details(json!({ "provider": provider, "reason": reason, "retry_after": 30 })),
    }
}

/// A failover call that found no provider (storage, captcha).
pub fn failure(code: &'static str, what: &str, f: Failure) -> AppError {
    match f {
        Failure::Rejected { provider, code: c, message } => rejected("PROVIDER_REJECTED", &provider, &c, &message),
        Failure::NoProvider => AppError::new(StatusCode::SERVICE_UNAVAILABLE, code, format!("no {what} provider is configured"))
            .with_details(json!({ "retry_after": 60 })),
        Failure::AllUnavailable { tried } => AppError::new(StatusCode::SERVICE_UNAVAILABLE, code, format!("every {what} provider is unavailable; retry later"))
            .with_details(json!({ "tried": tried.iter().map(|(p, e)| json!({ "provider": p, "error": e })).collect::<Vec<_>>(), "retry_after": 30 })),
        Failure::Ambiguous { provider, message } => AppError::new(StatusCode::SERVICE_UNAVAILABLE, code, format!("{provider} did not answer in time"))
            .with_details(json!({ "provider": provider, "reason": message, "retry_after": 30 })),
    }
}
