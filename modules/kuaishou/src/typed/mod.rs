//! Typed requests and answers for the methods an operations platform lives on: orders,
//! logistics, refunds, items, shop and seller info, customer-service messages.
//!
//! A request struct declares its fields in the SDK model's order (which is the order
//! of the `param` JSON and of `methods.json`), leaves out `None` fields and always
//! sends fields the SDK gives a default (`pageSize` 20 …), so its `param` is the SDK's
//! byte for byte (`tests/typed.rs` checks them against the recorded vectors). Answers
//! are read tolerantly: known fields typed, numbers that arrive as strings accepted,
//! everything else kept in `extra`.

pub mod cs;
pub mod items;
pub mod logistics;
pub mod orders;
pub mod refunds;
pub mod shop;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use shopops_kernel::error::FieldErrors;

use crate::client::json::to_param_json;

/// One open-platform method with a typed request and answer.
pub trait KsRequest: Serialize + Send + Sync {
    /// The method name, e.g. `open.order.cursor.list`.
    const METHOD: &'static str;
    /// The platform's `data` on success.
    type Response: DeserializeOwned + Send;

    /// The checks the SDK makes before sending (its pydantic validators), so that a
    /// request the platform would refuse is refused here with the field named.
    fn validate(&self, _errors: &mut FieldErrors) {}
}

/// The request's `param` text; None when it has no business parameters (then the SDK
/// sends no `param` at all).
pub fn param_json<R: KsRequest>(request: &R) -> Result<Option<String>, serde_json::Error> {
    let text = to_param_json(request)?;
    Ok((text != "{}").then_some(text))
}

/// Checks a request; Err holds the field errors for a 422.
pub fn check<R: KsRequest>(request: &R) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    request.validate(&mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// An integer that may arrive as a JSON number or as a numeric string (the platform
/// sends order ids both ways).
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Int(i64),
        Float(f64),
        Text(String),
    }
    Ok(match Option::<Num>::deserialize(d)? {
        Some(Num::Int(i)) => Some(i),
        Some(Num::Float(f)) if f.fract() == 0.0 => Some(f as i64),
        Some(Num::Text(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Fields the typed answer does not name, kept as the platform sent them.
pub type Extra = serde_json::Map<String, serde_json::Value>;
