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
use serde_json::value::RawValue;
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

/// A method whose answers come in cursor pages: where a request starts, the same
/// request from another cursor, and what a page holds (its item count, the next cursor).
pub trait CursorPaged: KsRequest + Clone {
    fn cursor(&self) -> Option<String>;
    fn at_cursor(&self, cursor: Option<String>) -> Self;
    fn page_info(page: &Self::Response) -> (usize, Option<String>);
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
/// sends order ids both ways). A visitor rather than an untagged enum: this runs for
/// every id and amount of every order, and an untagged enum buffers each value first.
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Lenient;

    impl<'de> serde::de::Visitor<'de> for Lenient {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer, or an integer in a string")
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(i64::try_from(v).ok())
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok((v.fract() == 0.0 && v.abs() < 9.2e18).then_some(v as i64))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(Lenient)
}

/// Fields the typed answer does not name, kept as the platform sent them.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// A typed value and the exact JSON text it was read from: for answers on hot paths
/// (order pages), where collecting unnamed fields into [`Extra`] would cost more than
/// the typed reading itself, yet nothing the platform sent may be lost.
#[derive(Debug, Clone)]
pub struct Raw<T> {
    pub value: T,
    pub json: Box<RawValue>,
}

impl<T> std::ops::Deref for Raw<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Raw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = Box::<RawValue>::deserialize(d)?;
        let value = serde_json::from_str(json.get()).map_err(serde::de::Error::custom)?;
        Ok(Raw { value, json })
    }
}

impl<T> Serialize for Raw<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}
