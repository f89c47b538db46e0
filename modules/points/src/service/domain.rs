//! The ledger's values as types that cannot hold an invalid one: parsed once, from a
//! request (see [`super::validate`]) or a stored row, so the operations never check
//! them again.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a ledger entry did (`points_entries.entry_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    Earn,
    Spend,
    Adjust,
    Freeze,
    Unfreeze,
    Expire,
    Reversal,
}

impl EntryType {
    pub const ALL: [EntryType; 7] = [
        EntryType::Earn,
        EntryType::Spend,
        EntryType::Adjust,
        EntryType::Freeze,
        EntryType::Unfreeze,
        EntryType::Expire,
        EntryType::Reversal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EntryType::Earn => "earn",
            EntryType::Spend => "spend",
            EntryType::Adjust => "adjust",
            EntryType::Freeze => "freeze",
            EntryType::Unfreeze => "unfreeze",
            EntryType::Expire => "expire",
            EntryType::Reversal => "reversal",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The audit log's action for an entry of this type.
    pub const fn audit_action(self) -> &'static str {
        match self {
            EntryType::Earn => "points.earn",
            EntryType::Spend => "points.spend",
            EntryType::Adjust => "points.adjust",
            EntryType::Freeze => "points.freeze",
            EntryType::Unfreeze => "points.unfreeze",
            EntryType::Expire => "points.expire",
            EntryType::Reversal => "points.reverse",
        }
    }

    /// Earn, spend and adjust entries can be undone by a reversal; the others are
    /// either moves that have their own inverse (freeze/unfreeze), the system's own
    /// (expire) or reversals themselves.
    pub const fn is_reversible(self) -> bool {
        matches!(self, EntryType::Earn | EntryType::Spend | EntryType::Adjust)
    }
}

/// Why points were earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Login,
    License,
    Referral,
    Community,
    Payment,
    Manual,
    VipUpgrade,
    FeatureUnlock,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Login,
        Category::License,
        Category::Referral,
        Category::Community,
        Category::Payment,
        Category::Manual,
        Category::VipUpgrade,
        Category::FeatureUnlock,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Login => "login",
            Category::License => "license",
            Category::Referral => "referral",
            Category::Community => "community",
            Category::Payment => "payment",
            Category::Manual => "manual",
            Category::VipUpgrade => "vip_upgrade",
            Category::FeatureUnlock => "feature_unlock",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// Every category's name, for `valid_categories` in a 422.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|c| c.as_str()).collect()
    }
}

/// The tenant's own id of a customer: 1 to [`MemberId::MAX_CHARS`] characters, no
/// control characters and no `/` (it is a path segment of the profile routes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberId(String);

impl MemberId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(value: &str) -> Option<Self> {
        let len = value.chars().count();
        let clean = !value.chars().any(|c| c.is_control() || c == '/');
        ((1..=Self::MAX_CHARS).contains(&len) && clean).then(|| Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A positive number of points, at most [`Points::MAX`] (the largest any tenant may
/// allow in one operation). The tenant's own, narrower bounds are applied by the
/// request check that makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Points(i64);

impl Points {
    pub const MAX: i64 = 1_000_000_000;

    pub fn new(value: i64) -> Option<Self> {
        (1..=Self::MAX).contains(&value).then_some(Self(value))
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A manual change of a balance: points added or taken away, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    Credit(Points),
    Debit(Points),
}

impl Adjustment {
    /// The change of the available balance.
    pub const fn signed(self) -> i64 {
        match self {
            Adjustment::Credit(p) => p.get(),
            Adjustment::Debit(p) => -p.get(),
        }
    }
}

/// A reason as stored: at most [`Reason::MAX_CHARS`] characters, without markup,
/// formula prefixes or control characters other than newline and tab (it is shown in
/// HTML back offices and exported to spreadsheets). May be empty where a reason is
/// optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = shopops_kernel::validate::REASON_MAX_CHARS;

    /// The stored form of a reason that passed the free-text rule (length, control
    /// characters): characters dangerous in HTML or a spreadsheet removed (a carriage
    /// return too: lines end with `\n`), then trimmed. Never longer than the text it
    /// was made from.
    pub fn cleaned(text: &str) -> Self {
        let kept: String = text
            .chars()
            .filter(|&c| !(c.is_control() && c != '\n' && c != '\t'))
            .filter(|c| !matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\'))
            .collect();
        Self(
            kept.trim()
                .trim_start_matches(['=', '+', '-', '@'])
                .trim()
                .to_string(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for t in EntryType::ALL {
            assert_eq!(EntryType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert_eq!(EntryType::parse("reverse"), None);
        assert_eq!(Category::parse("gold"), None);
        assert_eq!(EntryType::Reversal.audit_action(), "points.reverse");
        assert_eq!(Category::names().len(), 8);
    }

    #[test]
    fn values_cannot_be_out_of_bounds() {
        assert!(MemberId::parse("m-1").is_some());
        assert!(MemberId::parse(&"x".repeat(64)).is_some());
        for bad in ["", "a/b", "nul\u{0}", "tab\t"] {
            assert!(MemberId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(MemberId::parse(&"x".repeat(65)).is_none());
        assert_eq!(Points::new(1).map(Points::get), Some(1));
        assert!(Points::new(0).is_none() && Points::new(-5).is_none());
        assert!(Points::new(Points::MAX + 1).is_none());
        let p = Points::new(7).unwrap();
        assert_eq!(Adjustment::Debit(p).signed(), -7);
        assert_eq!(Adjustment::Credit(p).signed(), 7);
    }

    #[test]
    fn reasons_are_cleaned_for_display() {
        assert_eq!(
            Reason::cleaned("<script>alert('x')</script> bonus").as_str(),
            "scriptalert(x)/script bonus"
        );
        assert_eq!(
            Reason::cleaned("=HYPERLINK(\"x\")").as_str(),
            "HYPERLINK(x)"
        );
        assert_eq!(
            Reason::cleaned("line one\r\n\tline two\u{7}").as_str(),
            "line one\n\tline two"
        );
        assert!(Reason::cleaned("  ").is_empty());
    }
}
