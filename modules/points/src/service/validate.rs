//! Request checks: a request's raw fields become the domain's values
//! ([`super::domain`]), or one 422 `VALIDATION_ERROR` naming every field that failed.
//! A points operation's refusal adds `valid_categories` and `field_constraints` (the
//! tenant's bounds), so a client can correct the request without reading the docs.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use shopops_kernel::error::{Code, FieldErrors, Localized};
use shopops_kernel::validate::free_text;
use shopops_kernel::{tr, AppError, AppResult};

use super::domain::{Adjustment, Category, MemberId, Points, Reason};

/// The tenant's bounds of one operation (its settings).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub min: i64,
    pub max: i64,
}

/// Collects the field errors of one request while parsing its fields.
pub struct Check {
    errors: Map<String, Value>,
    /// Set for points operations: their refusals carry the hints.
    bounds: Option<Bounds>,
}

impl Check {
    /// The check of a points operation under the tenant's `bounds`.
    pub fn operation(bounds: Bounds) -> Self {
        Self {
            errors: Map::new(),
            bounds: Some(bounds),
        }
    }

    /// The check of any other request (no points, no hints).
    pub fn fields() -> Self {
        Self {
            errors: Map::new(),
            bounds: None,
        }
    }

    /// A refusal of `field`, in both languages (`tr!`).
    pub fn add(&mut self, field: &str, message: Localized) {
        let list = self
            .errors
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = list {
            list.push(message.to_value());
        }
    }

    /// Takes the messages a kernel rule wrote; true when there were none.
    fn absorb(&mut self, errors: FieldErrors) -> bool {
        let clean = errors.is_empty();
        for (field, messages) in errors.into_map() {
            let list = self
                .errors
                .entry(field)
                .or_insert_with(|| Value::Array(vec![]));
            if let (Value::Array(list), Value::Array(more)) = (list, messages) {
                list.extend(more);
            }
        }
        clean
    }

    pub fn member_id(&mut self, field: &str, value: &str) -> Option<MemberId> {
        let parsed = MemberId::parse(value);
        if parsed.is_none() {
            let max = MemberId::MAX_CHARS;
            self.add(
                field,
                tr!(
                    "会员ID必须为1到{max}个字符，且不含控制字符或 /",
                    "must be 1 to {max} characters, without control characters or /"
                ),
            );
        }
        parsed
    }

    /// The tenant's bounds, within what any amount may be.
    fn limits(&self) -> (i64, i64) {
        let b = self.bounds.unwrap_or(Bounds {
            min: 1,
            max: Points::MAX,
        });
        (b.min.max(1), b.max.min(Points::MAX))
    }

    pub fn points(&mut self, field: &str, value: i64) -> Option<Points> {
        let (min, max) = self.limits();
        if value < min {
            self.add(
                field,
                if min == 1 {
                    tr!("积分数量必须大于0", "must be greater than 0")
                } else {
                    tr!("积分数量不能少于{min}", "must be at least {min}")
                },
            );
        }
        if value > max {
            self.add(field, tr!("积分数量不能超过{max}", "must be at most {max}"));
        }
        Points::new(value).filter(|_| (min..=max).contains(&value))
    }

    /// A signed, non-zero change whose size is within the tenant's largest operation
    /// (the smallest does not apply: an adjustment corrects, it can be of 1).
    pub fn adjustment(&mut self, field: &str, value: i64) -> Option<Adjustment> {
        let (_, max) = self.limits();
        if value == 0 {
            self.add(field, tr!("调整数量不能为0", "must not be 0"));
        }
        // `unsigned_abs`: `abs` of i64::MIN overflows.
        if value.unsigned_abs() > max.unsigned_abs() {
            self.add(
                field,
                tr!(
                    "调整数量的绝对值不能超过{max}",
                    "must be between -{max} and {max}"
                ),
            );
            return None;
        }
        let size = Points::new(value.abs())?;
        Some(if value > 0 {
            Adjustment::Credit(size)
        } else {
            Adjustment::Debit(size)
        })
    }

    pub fn category(&mut self, field: &str, value: &str) -> Option<Category> {
        let parsed = Category::parse(value);
        if parsed.is_none() {
            self.add(field, tr!("无效的积分类别", "is not a valid category"));
        }
        parsed
    }

    /// An optional time that, when given, lies in the future.
    pub fn expires_at(
        &mut self,
        field: &str,
        value: Option<DateTime<Utc>>,
    ) -> Option<Option<DateTime<Utc>>> {
        if value.is_some_and(|t| t <= Utc::now()) {
            self.add(
                field,
                tr!("过期时间不能早于当前时间", "must be in the future"),
            );
            return None;
        }
        Some(value)
    }

    /// An optional reason: at most [`Reason::MAX_CHARS`] characters, no control
    /// characters but newline and tab. Refused, never cut.
    pub fn reason(&mut self, field: &str, value: Option<&str>) -> Option<Reason> {
        let text = value.unwrap_or_default();
        let mut errors = FieldErrors::new();
        free_text(field, text, Reason::MAX_CHARS, &mut errors);
        self.absorb(errors).then(|| Reason::cleaned(text))
    }

    /// A reason that must say something once cleaned.
    pub fn required_reason(&mut self, field: &str, value: &str) -> Option<Reason> {
        let reason = self.reason(field, Some(value))?;
        if reason.is_empty() {
            self.add(field, tr!("请填写原因", "is required"));
            return None;
        }
        Some(reason)
    }

    /// Runs a kernel field rule (`display_name`, `free_text` …); true when it passed.
    pub fn rule(&mut self, rule: impl FnOnce(&mut FieldErrors)) -> bool {
        let mut errors = FieldErrors::new();
        rule(&mut errors);
        self.absorb(errors)
    }

    /// The parsed request when every field passed, else the 422. `parsed` is built
    /// from this check's answers, so it is `None` only when a field failed.
    pub fn finish<T>(self, parsed: Option<T>) -> AppResult<T> {
        match parsed {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.into_error()),
        }
    }

    /// The 422 of what was found so far.
    pub fn into_error(self) -> AppError {
        let mut details = json!({ "field_errors": self.errors });
        if let Some(bounds) = self.bounds {
            details["valid_categories"] = json!(Category::names());
            details["field_constraints"] = constraints(bounds);
        }
        Code::ValidationError.err().with_details(details)
    }
}

/// The rules of a points operation's fields under the tenant's bounds.
pub fn constraints(bounds: Bounds) -> Value {
    json!({
        "points_amount": { "min": bounds.min, "max": bounds.max, "type": "integer" },
        "points_delta": { "min": -bounds.max, "max": bounds.max, "type": "integer", "not": 0 },
        "reason": { "max_length": Reason::MAX_CHARS, "type": "string" },
        "member_id": { "max_length": MemberId::MAX_CHARS, "type": "string" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_kernel::error::{rendered, Lang};

    const BOUNDS: Bounds = Bounds {
        min: 1,
        max: 10_000,
    };

    #[test]
    fn validation_errors_name_each_field_and_hint_the_rules() {
        let mut check = Check::operation(BOUNDS);
        let points = check.points("points_amount", 0);
        let category = check.category("category", "gold");
        let expires = check.expires_at("expires_at", Some(Utc::now() - chrono::Duration::days(1)));
        let err = check
            .finish((|| Some((points?, category?, expires?)))())
            .unwrap_err();
        assert_eq!(err.code, "VALIDATION_ERROR");
        assert_eq!(err.status.as_u16(), 422);
        let zh = rendered(&err, Lang::Zh);
        assert_eq!(
            zh["field_errors"]["points_amount"],
            json!(["积分数量必须大于0"])
        );
        assert_eq!(zh["field_errors"]["category"], json!(["无效的积分类别"]));
        assert_eq!(
            zh["field_errors"]["expires_at"],
            json!(["过期时间不能早于当前时间"])
        );
        let en = rendered(&err, Lang::En);
        assert_eq!(
            en["field_errors"]["points_amount"],
            json!(["must be greater than 0"])
        );
        assert_eq!(zh["valid_categories"][0], "login");
        assert_eq!(
            zh["field_constraints"]["points_amount"],
            json!({ "min": 1, "max": 10000, "type": "integer" })
        );
    }

    #[test]
    fn valid_fields_become_domain_values() {
        let mut check = Check::operation(BOUNDS);
        let member = check.member_id("member_id", "m-1");
        let delta = check.adjustment("points_delta", -40);
        let reason = check.required_reason("reason", "  =refund <b>late</b> ");
        let (member, delta, reason) = check
            .finish((|| Some((member?, delta?, reason?)))())
            .unwrap();
        assert_eq!(member.as_str(), "m-1");
        assert_eq!(delta.signed(), -40);
        assert_eq!(reason.as_str(), "refund blate/b");
    }

    #[test]
    fn amounts_respect_the_tenant_bounds() {
        let mut check = Check::operation(Bounds { min: 5, max: 50 });
        assert!(check.points("points_amount", 4).is_none());
        assert!(check.points("points_amount", 51).is_none());
        assert!(check.adjustment("points_delta", i64::MIN).is_none());
        assert!(check.adjustment("points_delta", 0).is_none());
        assert_eq!(check.points("points_amount", 5).map(Points::get), Some(5));
        assert!(check.adjustment("points_delta", 2).is_some(), "no minimum");
        let zh = rendered(&check.finish(Some(())).unwrap_err(), Lang::Zh);
        assert_eq!(
            zh["field_errors"]["points_amount"],
            json!(["积分数量不能少于5", "积分数量不能超过50"])
        );
        assert_eq!(
            zh["field_errors"]["points_delta"],
            json!(["调整数量的绝对值不能超过50", "调整数量不能为0"])
        );
    }

    #[test]
    fn long_or_binary_reasons_are_refused_not_cut() {
        let mut check = Check::fields();
        assert!(check.reason("reason", Some(&"a".repeat(500))).is_some());
        assert!(check.reason("reason", Some(&"a".repeat(900))).is_none());
        assert!(check.reason("reason", Some("nul\u{0}")).is_none());
        assert_eq!(check.reason("other", None), Some(Reason::default()));
        assert!(check.required_reason("required", " ").is_none());
        let en = rendered(&check.finish(Some(())).unwrap_err(), Lang::En);
        assert_eq!(
            en["field_errors"]["reason"],
            json!([
                "must be at most 500 characters",
                "must not contain control characters other than newline and tab"
            ])
        );
        assert_eq!(en["field_errors"]["required"], json!(["is required"]));
        assert!(
            en.get("valid_categories").is_none(),
            "no hints outside operations"
        );
    }
}
