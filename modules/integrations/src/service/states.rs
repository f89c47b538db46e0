//! The states a payment, a refund and an SMS go through, as types. They are the
//! columns' types too (`DeriveActiveEnum`), so a row is parsed once when it is read: a
//! state no code knows is an error there, never a default.

use sea_orm::{DeriveActiveEnum, EnumIter, Iterable};
use serde::Serialize;
use utoipa::ToSchema;

/// Where a payment stands. It only moves forward ([`PaymentStatus::advances_to`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The row exists and the providers are being asked (or the attempt was cut short).
    #[sea_orm(string_value = "creating")]
    Creating,
    /// At its provider, waiting for the payer.
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "paid")]
    Paid,
    #[sea_orm(string_value = "closed")]
    Closed,
    #[sea_orm(string_value = "partially_refunded")]
    PartiallyRefunded,
    #[sea_orm(string_value = "refunded")]
    Refunded,
    /// No provider took it.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// A provider may have it and asking it did not tell.
    #[sea_orm(string_value = "unknown")]
    Unknown,
}

impl PaymentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Creating => "creating",
            PaymentStatus::Pending => "pending",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Closed => "closed",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Unknown => "unknown",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::iter().find(|s| s.as_str() == value)
    }

    /// How far along the payment is: creating (or not known to be created) < pending
    /// < paid or closed < partially refunded < refunded.
    const fn rank(self) -> u8 {
        match self {
            PaymentStatus::Creating | PaymentStatus::Unknown | PaymentStatus::Failed => 0,
            PaymentStatus::Pending => 1,
            PaymentStatus::Paid | PaymentStatus::Closed => 2,
            PaymentStatus::PartiallyRefunded => 3,
            PaymentStatus::Refunded => 4,
        }
    }

    /// Is `next` a step forward? A late "pending" never undoes "paid".
    pub const fn advances_to(self, next: PaymentStatus) -> bool {
        next.rank() > self.rank()
    }

    /// Not created at any provider as far as we know: a create may (re)start.
    pub const fn may_create(self) -> bool {
        matches!(
            self,
            PaymentStatus::Creating | PaymentStatus::Failed | PaymentStatus::Unknown
        )
    }

    /// Money was taken and not all of it refunded.
    pub const fn refundable(self) -> bool {
        matches!(self, PaymentStatus::Paid | PaymentStatus::PartiallyRefunded)
    }
}

/// Where a refund stands at its provider.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Accepted, the money not back yet (and the state of a refund not yet answered).
    #[sea_orm(string_value = "processing")]
    Processing,
    #[sea_orm(string_value = "success")]
    Success,
    /// The provider closed it without refunding.
    #[sea_orm(string_value = "closed")]
    Closed,
    /// The provider could not pay it back (the payer's account is gone …).
    #[sea_orm(string_value = "abnormal")]
    Abnormal,
}

impl RefundStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Processing => "processing",
            RefundStatus::Success => "success",
            RefundStatus::Closed => "closed",
            RefundStatus::Abnormal => "abnormal",
        }
    }

    /// The provider took it: its amount counts against the payment.
    pub const fn accepted(self) -> bool {
        matches!(self, RefundStatus::Processing | RefundStatus::Success)
    }
}

/// Where a message of the outbox stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum SmsStatus {
    /// Queued: sent at once if a provider can, else retried with backoff.
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sent")]
    Sent,
    /// A provider refused it (its code in `last_error`).
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Given up after the last attempt.
    #[sea_orm(string_value = "dead")]
    Dead,
    /// A send may have reached a provider; never resent, to send at most once.
    #[sea_orm(string_value = "unknown")]
    Unknown,
}

impl SmsStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            SmsStatus::Pending => "pending",
            SmsStatus::Sent => "sent",
            SmsStatus::Rejected => "rejected",
            SmsStatus::Dead => "dead",
            SmsStatus::Unknown => "unknown",
        }
    }
}

/// What the provider reported about a sent message reaching the phone.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    #[sea_orm(string_value = "delivered")]
    Delivered,
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl Delivery {
    pub const fn of(delivered: bool) -> Self {
        if delivered {
            Delivery::Delivered
        } else {
            Delivery::Failed
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveEnum;

    use super::*;

    /// The names the code, the columns and the JSON use are the same.
    fn same_names<T: ActiveEnum<Value = String> + Serialize + Copy>(as_str: fn(T) -> &'static str) {
        for state in T::iter() {
            assert_eq!(state.to_value(), as_str(state));
            assert_eq!(serde_json::json!(state), as_str(state));
        }
    }

    #[test]
    fn every_state_has_one_name() {
        same_names(PaymentStatus::as_str);
        same_names(RefundStatus::as_str);
        same_names(SmsStatus::as_str);
        same_names(Delivery::as_str);
        for s in PaymentStatus::iter() {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentStatus::parse("Paid"), None);
    }

    #[test]
    fn a_payment_only_moves_forward() {
        use PaymentStatus::*;
        assert!(Creating.advances_to(Pending));
        assert!(Pending.advances_to(Paid));
        assert!(Paid.advances_to(PartiallyRefunded));
        assert!(PartiallyRefunded.advances_to(Refunded));
        assert!(!Paid.advances_to(Pending));
        assert!(!Paid.advances_to(Closed));
        assert!(!Refunded.advances_to(Paid));
        assert!(Unknown.advances_to(Pending));
    }
}
