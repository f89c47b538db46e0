//! Request validation: 422 `VALIDATION_ERROR` with `field_errors`, `valid_categories`
//! and `field_constraints`, as seed 001 shows.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::AppError;

use crate::error::CATEGORIES;

pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_MEMBER_ID_CHARS: usize = 64;

/// Per-tenant bounds of one operation.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub min: i64,
    pub max: i64,
}

/// Collects field errors and renders seed 001's 422.
pub struct Check {
    errors: FieldErrors,
    bounds: Bounds,
}

impl Check {
    pub fn new(bounds: Bounds) -> Self {
        Self {
            errors: FieldErrors::new(),
            bounds,
        }
    }

    pub fn member_id(&mut self, field: &str, value: &str) -> &mut Self {
        let len = value.chars().count();
        if len == 0
            || len > MAX_MEMBER_ID_CHARS
            || value.chars().any(|c| c.is_control() || c == '/')
        {
            self.errors.add(
                field,
                format!("会员ID必须为1到{MAX_MEMBER_ID_CHARS}个字符，且不含控制字符或 /"),
            );
        }
        self
    }

    pub fn amount(&mut self, field: &str, value: i64) -> &mut Self {
        if value < self.bounds.min {
            self.errors.add(
                field,
                if self.bounds.min <= 1 {
                    "积分数量必须大于0".to_string()
                } else {
                    format!("积分数量不能少于{}", self.bounds.min)
                },
            );
        }
        if value > self.bounds.max {
            self.errors
                .add(field, format!("积分数量不能超过{}", self.bounds.max));
        }
        self
    }

    pub fn delta(&mut self, field: &str, value: i64) -> &mut Self {
        if value == 0 {
            self.errors.add(field, "调整数量不能为0");
        }
        if value.abs() > self.bounds.max {
            self.errors.add(
                field,
                format!("调整数量的绝对值不能超过{}", self.bounds.max),
            );
        }
        self
    }

    pub fn category(&mut self, field: &str, value: &str) -> &mut Self {
        if !CATEGORIES.contains(&value) {
            self.errors.add(field, "无效的积分类别");
        }
        self
    }

    pub fn expires_at(&mut self, field: &str, value: Option<DateTime<Utc>>) -> &mut Self {
        if value.is_some_and(|t| t <= Utc::now()) {
            self.errors.add(field, "过期时间不能早于当前时间");
        }
        self
    }

    pub fn reason_required(&mut self, field: &str, value: &str) -> &mut Self {
        if value.trim().is_empty() {
            self.errors.add(field, "请填写原因");
        }
        self
    }

    pub fn into_result(self) -> Result<(), AppError> {
        let bounds = self.bounds;
        self.errors.into_result().map_err(|mut err| {
            err.details["valid_categories"] = json!(CATEGORIES);
            err.details["field_constraints"] = constraints(bounds);
            err
        })
    }
}

pub fn constraints(bounds: Bounds) -> Value {
    json!({
        "points_amount": { "min": bounds.min, "max": bounds.max, "type": "integer" },
        "points_delta": { "min": -bounds.max, "max": bounds.max, "type": "integer", "not": 0 },
        "reason": { "max_length": MAX_REASON_CHARS, "type": "string" },
        "member_id": { "max_length": MAX_MEMBER_ID_CHARS, "type": "string" },
    })
}

/// Strips characters that are dangerous when a reason is shown in HTML or a
/// spreadsheet (markup, formula prefixes, control characters) and caps the length.
pub fn clean_reason(reason: Option<&str>) -> String {
    let cleaned: String = reason
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\'))
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches(['=', '+', '-', '@'])
        .trim();
    trimmed.chars().take(MAX_REASON_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_shape_of_validation_errors() {
        let mut check = Check::new(Bounds {
            min: 1,
            max: 10_000,
        });
        check
            .amount("points_amount", 0)
            .category("category", "gold")
            .expires_at("expires_at", Some(Utc::now() - chrono::Duration::days(1)));
        let err = check.into_result().unwrap_err();
        assert_eq!(err.code, "VALIDATION_ERROR");
        assert_eq!(err.status.as_u16(), 422);
        assert_eq!(
            err.details["field_errors"]["points_amount"],
            json!(["积分数量必须大于0"])
        );
        assert_eq!(
            err.details["field_errors"]["category"],
            json!(["无效的积分类别"])
        );
        assert_eq!(
            err.details["field_errors"]["expires_at"],
            json!(["过期时间不能早于当前时间"])
        );
        assert_eq!(err.details["valid_categories"][0], "login");
        assert_eq!(
            err.details["field_constraints"]["points_amount"],
            json!({ "min": 1, "max": 10000, "type": "integer" })
        );
    }

    #[test]
    fn reasons_are_cleaned_and_capped() {
        assert_eq!(
            clean_reason(Some("<script>alert('x')</script> bonus")),
            "scriptalert(x)/script bonus"
        );
        assert_eq!(clean_reason(Some("=HYPERLINK(\"x\")")), "HYPERLINK(x)");
        assert_eq!(clean_reason(Some(&"a".repeat(900))).len(), 500);
        assert_eq!(clean_reason(None), "");
    }
}
