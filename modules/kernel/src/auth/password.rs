//! Password hashing with argon2id (the `argon2` crate's defaults: OWASP parameters).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

use crate::error::{AppError, AppResult, FieldErrors};
use crate::tr;

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 128;

pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("argon2 hash: {e}")))
}

pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same time as a real check when the user does not exist, so response
/// times do not reveal which usernames are registered.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("dummy-password-for-timing").unwrap_or_default());
    let _ = verify(password, stored);
}

/// The password rules; each broken rule adds its own message to `field`:
/// 8–128 characters, not only whitespace, no control characters (NUL, escape …; a
/// password is typed, not pasted from a binary), not the username, and not easy to
/// guess. "Easy to guess" is zxcvbn's estimate (Dropbox's estimator: 30k common
/// passwords, dictionaries, keyboard walks, dates, repeats, l33t — with the username as
/// a word to avoid) below [`MIN_ZXCVBN_SCORE`].
pub fn check_policy(field: &str, password: &str, username: &str, errors: &mut FieldErrors) {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        errors.add(
            field,
            tr!(
                "至少 {MIN_PASSWORD_LEN} 个字符",
                "must be at least {MIN_PASSWORD_LEN} characters"
            ),
        );
    }
    if len > MAX_PASSWORD_LEN {
        errors.add(
            field,
            tr!(
                "最多 {MAX_PASSWORD_LEN} 个字符",
                "must be at most {MAX_PASSWORD_LEN} characters"
            ),
        );
    }
    if password.chars().any(char::is_control) {
        errors.add(
            field,
            tr!("不能包含控制字符", "must not contain control characters"),
        );
        return;
    }
    if password.trim().is_empty() {
        errors.add(
            field,
            tr!("不能只有空白字符", "must not be only whitespace"),
        );
        return;
    }
    if password.trim().eq_ignore_ascii_case(username.trim()) {
        errors.add(field, tr!("不能与用户名相同", "must not be the username"));
        return;
    }
    if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        let estimate = zxcvbn::zxcvbn(password, &[username]);
        if u8::from(estimate.score()) < MIN_ZXCVBN_SCORE {
            errors.add(
                field,
                tr!(
                    "太容易被猜到：常见密码或简单规律",
                    "is too easy to guess: a common password or a simple pattern"
                ),
            );
        }
    }
}

/// zxcvbn scores 0–4; 2 means about a million guesses or more ("somewhat guessable:
/// protection from unthrottled online attacks"), enough with login lockout in front.
pub const MIN_ZXCVBN_SCORE: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse", &a));
        assert!(!verify("anything", "not a hash"));
    }

    fn refusals(password: &str, username: &str) -> Vec<String> {
        let mut errors = FieldErrors::new();
        check_policy("password", password, username, &mut errors);
        match errors.into_result() {
            Ok(()) => vec![],
            Err(e) => crate::error::rendered(&e, crate::error::Lang::En)["field_errors"]
                ["password"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    #[test]
    fn weak_passwords_are_refused_with_the_rule_they_break() {
        for (password, rule) in [
            ("password", "too easy to guess"),
            ("12345678", "too easy to guess"),
            ("qwertyuiop", "too easy to guess"),
            ("iloveyou1", "too easy to guess"),
            ("        ", "only whitespace"),
            ("pass\0word-long", "control characters"),
            ("tab\u{1b}escape-long", "control characters"),
            ("Shopkeeper-Zhang", "the username"),
            ("short", "at least 8"),
        ] {
            let got = refusals(password, "shopkeeper-zhang");
            assert!(
                got.iter().any(|m| m.contains(rule)),
                "{password:?}: {got:?}"
            );
        }
    }

    #[test]
    fn ordinary_strong_passwords_pass() {
        for password in [
            "correct horse battery staple",
            "Tr0ub4dor&3-xyz",
            "淘宝店铺-2026-春季",
        ] {
            assert_eq!(
                refusals(password, "zhang"),
                Vec::<String>::new(),
                "{password}"
            );
        }
    }
}
