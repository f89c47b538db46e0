//! Field rules shared by the identity endpoints.

use crate::error::FieldErrors;

pub fn username(field: &str, value: &str, errors: &mut FieldErrors) {
    let len = value.chars().count();
    if len == 0 || len > 64 {
        errors.add(field, "must be 1 to 64 characters");
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        errors.add(field, "may contain only letters, digits and . _ - @");
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
            "must be 2 to 63 lowercase letters, digits or '-', not starting or ending with '-'",
        );
    }
}

pub fn display_name(field: &str, value: &str, errors: &mut FieldErrors) {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        errors.add(field, "must be 1 to 200 characters");
    }
    if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
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
}
