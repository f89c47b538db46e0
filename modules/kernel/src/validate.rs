//! Field rules shared by the kernel's endpoints and the modules': names, codes and free
//! text. Every free-text field has a maximum length (declared as `maxLength` in the
//! spec) and refuses control characters other than newline and tab.

use crate::error::FieldErrors;
use crate::tr;

/// Longest display name (tenants, API tokens, levels, tags …).
pub const NAME_MAX_CHARS: usize = 200;
/// Longest free-text reason or note.
pub const REASON_MAX_CHARS: usize = 500;

pub fn username(field: &str, value: &str, errors: &mut FieldErrors) {
    let len = value.chars().count();
    if len == 0 || len > 64 {
        errors.add(
            field,
            tr!("必须为 1 到 64 个字符", "must be 1 to 64 characters"),
        );
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        errors.add(
            field,
            tr!(
                "只能包含字母、数字和 . _ - @",
                "may contain only letters, digits and . _ - @"
            ),
        );
    }
}

pub fn tenant_code(field: &str, value: &str, errors: &mut FieldErrors) {
    let ok_len = (2..=63).contains(&value.len());
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok_ends = !value.starts_with('-') && !value.ends_with('-');
    if !(ok_len && ok_chars && ok_ends) {
        errors.add(
            field,
            tr!(
                "必须为 2 到 63 个小写字母、数字或 '-'，且不以 '-' 开头或结尾",
                "must be 2 to 63 lowercase letters, digits or '-', not starting or ending with '-'"
            ),
        );
    }
}

/// A one-line name: 1 to [`NAME_MAX_CHARS`] characters once trimmed, no control
/// characters at all.
pub fn display_name(field: &str, value: &str, errors: &mut FieldErrors) {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > NAME_MAX_CHARS {
        errors.add(
            field,
            tr!(
                "必须为 1 到 {NAME_MAX_CHARS} 个字符",
                "must be 1 to {NAME_MAX_CHARS} characters"
            ),
        );
    }
    if value.chars().any(char::is_control) {
        errors.add(
            field,
            tr!("不能包含控制字符", "must not contain control characters"),
        );
    }
}

/// Free text (a reason, a note, a description): at most `max` characters; line breaks
/// (`\n`, `\r\n`) and tab allowed, other control characters (NUL, escape …) refused. Empty is allowed;
/// require it separately where a text must be given.
pub fn free_text(field: &str, value: &str, max: usize, errors: &mut FieldErrors) {
    if value.chars().count() > max {
        errors.add(
            field,
            tr!("最多 {max} 个字符", "must be at most {max} characters"),
        );
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        errors.add(
            field,
            tr!(
                "不能包含换行和制表符以外的控制字符",
                "must not contain control characters other than newline and tab"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(f: impl Fn(&mut FieldErrors)) -> bool {
        let mut e = FieldErrors::new();
        f(&mut e);
        !e.is_empty()
    }

    #[test]
    fn rules() {
        assert!(!errs(|e| username("u", "alice.b-1@x", e)));
        assert!(errs(|e| username("u", "", e)));
        assert!(errs(|e| username("u", "al ice", e)));
        assert!(!errs(|e| tenant_code("c", "shop-1", e)));
        assert!(errs(|e| tenant_code("c", "Shop", e)));
        assert!(errs(|e| tenant_code("c", "-x", e)));
        assert!(errs(|e| display_name("n", "  ", e)));
        assert!(errs(|e| display_name("n", "a\u{0}b", e)));
    }

    #[test]
    fn free_text_allows_lines_and_refuses_other_controls_and_excess() {
        assert!(!errs(|e| free_text("r", "第一行\n\tsecond line", 20, e)));
        assert!(!errs(|e| free_text("r", "", 20, e)));
        assert!(errs(|e| free_text("r", "nul\u{0}", 20, e)));
        assert!(errs(|e| free_text("r", "esc\u{1b}[31m", 20, e)));
        assert!(errs(|e| free_text("r", &"字".repeat(21), 20, e)));
        assert!(!errs(|e| free_text("r", &"字".repeat(20), 20, e)));
    }
}
