//! A shop's reply rules, as pure functions: the routing band of a KB match, and
//! whether a reply may be sent without a person (docs/customer-service.md, "Routing").
//!
//! - **Blacklist** entries are customer ids, or `keyword:<text>` to match a message
//!   containing that text (case and width folded, NFKC). A hit never auto-sends.
//! - **Whitelist** entries are customer ids; when the list is not empty, only those
//!   customers get automatic replies.
//! - **Business hours**: `09:00-22:00`, several ranges separated by commas
//!   (`09:00-12:00,13:30-22:00`), a range may cross midnight (`20:00-02:00`); empty
//!   means always. Read in the tenant's time zone.

use chrono::NaiveTime;
use unicode_normalization::UnicodeNormalization;

/// The prefix of a blacklist entry that is a keyword, not a customer id.
pub const KEYWORD_PREFIX: &str = "keyword:";

/// Which band a KB match falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// Confidence above the shop's `kb_auto_threshold`: the KB answer itself.
    KbAuto,
    /// Above `kb_assist_threshold`: an LLM draft with the KB answer as reference.
    KbAssist,
    /// Below: an LLM draft alone.
    LlmOnly,
}

impl Band {
    pub fn of(confidence: Option<f64>, auto_threshold: f64, assist_threshold: f64) -> Band {
        match confidence {
            Some(c) if c > auto_threshold => Band::KbAuto,
            Some(c) if c > assist_threshold => Band::KbAssist,
            _ => Band::LlmOnly,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::KbAuto => "kb_auto",
            Band::KbAssist => "kb_assist",
            Band::LlmOnly => "llm_only",
        }
    }
}

/// What stops an automatic reply, in the order the rules are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    AutoModeOff,
    BlacklistedCustomer,
    BlacklistedKeyword,
    NotWhitelisted,
    OutsideBusinessHours,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::AutoModeOff => "auto_mode_off",
            Hold::BlacklistedCustomer => "blacklist_customer",
            Hold::BlacklistedKeyword => "blacklist_keyword",
            Hold::NotWhitelisted => "not_whitelisted",
            Hold::OutsideBusinessHours => "outside_business_hours",
        }
    }
}

/// The shop's rules in a form quick to check.
pub struct ReplyRules {
    pub auto_mode: bool,
    blocked_customers: Vec<String>,
    blocked_keywords: Vec<String>,
    allowed_customers: Vec<String>,
    hours: BusinessHours,
}

impl ReplyRules {
    pub fn new(
        auto_mode: bool,
        blacklist: &[String],
        whitelist: &[String],
        hours: BusinessHours,
    ) -> Self {
        let (keywords, customers): (Vec<&String>, Vec<&String>) = blacklist
            .iter()
            .partition(|e| e.starts_with(KEYWORD_PREFIX));
        Self {
            auto_mode,
            blocked_customers: customers.into_iter().cloned().collect(),
            blocked_keywords: keywords
                .into_iter()
                .map(|k| fold(&k[KEYWORD_PREFIX.len()..]))
                .filter(|k| !k.is_empty())
                .collect(),
            allowed_customers: whitelist.to_vec(),
            hours,
        }
    }

    /// The first rule that holds an automatic reply back, if any.
    pub fn hold(&self, customer: &str, message: &str, local_time: NaiveTime) -> Option<Hold> {
        if !self.auto_mode {
            return Some(Hold::AutoModeOff);
        }
        if self.blocked_customers.iter().any(|c| c == customer) {
            return Some(Hold::BlacklistedCustomer);
        }
        let folded = fold(message);
        if self
            .blocked_keywords
            .iter()
            .any(|k| folded.contains(k.as_str()))
        {
            return Some(Hold::BlacklistedKeyword);
        }
        if !self.allowed_customers.is_empty()
            && !self.allowed_customers.iter().any(|c| c == customer)
        {
            return Some(Hold::NotWhitelisted);
        }
        if !self.hours.contains(local_time) {
            return Some(Hold::OutsideBusinessHours);
        }
        None
    }
}

/// NFKC and lower case: `ＶＩＰ` and `vip` match.
fn fold(text: &str) -> String {
    text.nfkc().collect::<String>().to_lowercase()
}

/// Opening hours as minute ranges of the day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessHours {
    /// `(start, end)` in minutes after midnight; `end < start` crosses midnight.
    ranges: Vec<(u32, u32)>,
}

impl BusinessHours {
    /// `""` (always), or `HH:MM-HH:MM[,HH:MM-HH:MM…]`; `None` when malformed.
    pub fn parse(text: &str) -> Option<BusinessHours> {
        let text = text.trim();
        if text.is_empty() {
            return Some(BusinessHours::default());
        }
        let minutes = |t: &str| {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && t.trim().len() == 5).then_some(h * 60 + m)
        };
        let ranges = text
            .split(',')
            .map(|range| {
                let (from, to) = range.split_once('-')?;
                let (from, to) = (minutes(from)?, minutes(to)?);
                (from != to).then_some((from, to))
            })
            .collect::<Option<Vec<_>>>()?;
        (ranges.len() <= 8).then_some(BusinessHours { ranges })
    }

    pub fn contains(&self, time: NaiveTime) -> bool {
        use chrono::Timelike;
        if self.ranges.is_empty() {
            return true;
        }
        let now = time.hour() * 60 + time.minute();
        self.ranges.iter().any(|&(from, to)| {
            if from < to {
                (from..to).contains(&now)
            } else {
                now >= from || now < to
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn bands_are_strictly_above_their_thresholds() {
        assert_eq!(Band::of(Some(0.95), 0.9, 0.6), Band::KbAuto);
        assert_eq!(Band::of(Some(0.9), 0.9, 0.6), Band::KbAssist);
        assert_eq!(Band::of(Some(0.61), 0.9, 0.6), Band::KbAssist);
        assert_eq!(Band::of(Some(0.6), 0.9, 0.6), Band::LlmOnly);
        assert_eq!(Band::of(None, 0.9, 0.6), Band::LlmOnly);
        assert_eq!(
            Band::of(Some(0.93), 0.95, 0.6),
            Band::KbAssist,
            "a tightened band"
        );
    }

    #[test]
    fn business_hours_parse_and_cross_midnight() {
        let day = BusinessHours::parse("09:00-22:00").unwrap();
        assert!(day.contains(at(9, 0)) && day.contains(at(21, 59)));
        assert!(!day.contains(at(22, 0)) && !day.contains(at(8, 59)));
        let night = BusinessHours::parse("20:00-02:00").unwrap();
        assert!(night.contains(at(23, 0)) && night.contains(at(1, 59)));
        assert!(!night.contains(at(2, 0)) && !night.contains(at(12, 0)));
        let split = BusinessHours::parse("09:00-12:00, 13:30-22:00").unwrap();
        assert!(!split.contains(at(12, 30)) && split.contains(at(13, 30)));
        assert!(BusinessHours::parse("").unwrap().contains(at(3, 0)));
        for bad in [
            "9:00-22:00",
            "09:00",
            "25:00-26:00",
            "09:00-09:00",
            "09:60-10:00",
            "a-b",
        ] {
            assert_eq!(BusinessHours::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rules_hold_auto_replies_in_order() {
        let hours = BusinessHours::parse("09:00-22:00").unwrap();
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rules = ReplyRules::new(
            true,
            &list(&["troll", "keyword:投诉", "keyword:ＶＩＰ"]),
            &[],
            hours.clone(),
        );
        assert_eq!(rules.hold("buyer", "什么时候发货", at(10, 0)), None);
        assert_eq!(
            rules.hold("troll", "什么时候发货", at(10, 0)),
            Some(Hold::BlacklistedCustomer)
        );
        assert_eq!(
            rules.hold("buyer", "我要投诉你们", at(10, 0)),
            Some(Hold::BlacklistedKeyword)
        );
        assert_eq!(
            rules.hold("buyer", "vip 有优惠吗", at(10, 0)),
            Some(Hold::BlacklistedKeyword)
        );
        assert_eq!(
            rules.hold("buyer", "什么时候发货", at(23, 0)),
            Some(Hold::OutsideBusinessHours)
        );
        let only = ReplyRules::new(true, &[], &list(&["friend"]), hours.clone());
        assert_eq!(
            only.hold("buyer", "x", at(10, 0)),
            Some(Hold::NotWhitelisted)
        );
        assert_eq!(only.hold("friend", "x", at(10, 0)), None);
        let off = ReplyRules::new(false, &[], &[], hours);
        assert_eq!(off.hold("friend", "x", at(10, 0)), Some(Hold::AutoModeOff));
    }
}
