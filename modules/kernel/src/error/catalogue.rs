//! The error catalogue: every code the API answers with, declared once, in tables.
//!
//! The kernel and each module declare their codes with [`error_codes!`](crate::error_codes):
//! one enum per crate whose variants carry the code (SCREAMING_SNAKE_CASE), the HTTP
//! status, the message in Chinese and English, and the documentation (the variant's doc
//! comment, Markdown). From those tables come the envelope's message in the caller's
//! language, `docs/errors.md` ([`markdown`]) and the OpenAPI enum of `code`.
//!
//! A message may name fields of the error's `details` in braces (`{provider} 暂时不可用`),
//! filled in when the envelope is rendered ([`fill`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// One code of the catalogue.
#[derive(Debug)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: u16,
    /// The message in Simplified Chinese (`zh-CN`).
    pub zh: &'static str,
    /// The message in English (`en`).
    pub en: &'static str,
    /// Markdown: when it happens, which `details` it carries, what the caller does.
    pub doc: &'static str,
}

/// A catalogue table with the name of the part of the system it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Catalogue {
    /// `kernel` or the module's name — shown next to the code in the docs.
    pub owner: &'static str,
    pub codes: &'static [ErrorCode],
}

/// Declares a crate's error codes: an enum whose variants index a table of
/// [`ErrorCode`]s.
///
/// ```ignore
/// shopops_kernel::error_codes! {
///     pub enum Code {
///         /// Markdown documentation of the code.
///         OrderClosed = (409, "ORDER_CLOSED", "订单已关闭", "the order is closed"),
///     }
/// }
/// // Code::OrderClosed.err().with_details(json!({ … }))
/// ```
#[macro_export]
macro_rules! error_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident = ($status:literal, $code:literal, $zh:literal, $en:literal)
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[doc = $doc])* $variant),*
        }

        impl $name {
            /// Every code of this table, in declaration order.
            pub const ALL: &'static [$crate::error::ErrorCode] = &[
                $($crate::error::ErrorCode {
                    code: $code,
                    status: $status,
                    zh: $zh,
                    en: $en,
                    doc: concat!($($doc, "\n"),*),
                }),*
            ];

            /// This code's entry in the table.
            pub const fn def(self) -> &'static $crate::error::ErrorCode {
                &Self::ALL[self as usize]
            }

            /// The error, with the catalogue's message and empty details.
            pub fn err(self) -> $crate::AppError {
                $crate::AppError::from_code(self.def())
            }
        }

        impl From<$name> for $crate::AppError {
            fn from(code: $name) -> Self {
                code.err()
            }
        }
    };
}

/// The languages messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The best language an `Accept-Language` header asks for, or `default` when it
    /// names neither (`zh-CN;q=0.8, en;q=0.9` → English).
    pub fn negotiate(header: Option<&str>, default: Lang) -> Lang {
        let Some(header) = header else {
            return default;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or(default)
    }

    /// Parses a configured language (`zh-CN`, `zh`, `en`).
    pub fn parse(value: &str) -> Option<Lang> {
        match value.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// The `Content-Language` tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// A message in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Localized {
    pub zh: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Localized {
    pub const fn fixed(zh: &'static str, en: &'static str) -> Self {
        Self {
            zh: Cow::Borrowed(zh),
            en: Cow::Borrowed(en),
        }
    }

    pub fn owned(zh: String, en: String) -> Self {
        Self {
            zh: Cow::Owned(zh),
            en: Cow::Owned(en),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// A message in both languages, formatted like `format!` (same arguments for both):
/// `tr!("不能超过 {max} 个字符", "must be at most {max} characters")`.
#[macro_export]
macro_rules! tr {
    ($zh:literal, $en:literal $(,)?) => {
        $crate::error::Localized::owned(format!($zh), format!($en))
    };
    ($zh:literal, $en:literal, $($arg:tt)+) => {
        $crate::error::Localized::owned(format!($zh, $($arg)+), format!($en, $($arg)+))
    };
}

/// Fills `{name}` in a catalogue message with `details.name` (strings as they are,
/// other values as JSON); a name that `details` lacks stays as written.
pub fn fill(template: &str, details: &Value) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if is_field_name(&after[..end]) => {
                match details.get(&after[..end]) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Null) | None => out.push_str(&rest[start..start + end + 2]),
                    Some(other) => out.push_str(&other.to_string()),
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The reason phrase of a status, for the docs' section headings.
fn section(status: u16) -> &'static str {
    match status {
        400 => "400 Bad Request — the request could not be read",
        401 => "401 Unauthorized — who are you?",
        403 => "403 Forbidden — you may not",
        404 => "404 Not Found",
        405 => "405 Method Not Allowed",
        408 => "408 Request Timeout",
        409 => "409 Conflict",
        413 => "413 Payload Too Large",
        414 => "414 URI Too Long",
        415 => "415 Unsupported Media Type",
        422 => "422 Unprocessable Entity — readable but not acceptable",
        429 => "429 Too Many Requests",
        431 => "431 Request Header Fields Too Large",
        500 => "500 Internal Server Error",
        502 => "502 Bad Gateway — an outside system failed",
        503 => "503 Service Unavailable — try again later",
        504 => "504 Gateway Timeout",
        _ => "Other",
    }
}

/// `docs/errors.md`: the introduction, then every code grouped by status, each with its
/// owner, both messages and its documentation.
pub fn markdown(intro: &str, catalogues: &[Catalogue]) -> String {
    let mut all: Vec<(&'static str, &ErrorCode)> = catalogues
        .iter()
        .flat_map(|c| c.codes.iter().map(move |code| (c.owner, code)))
        .collect();
    all.sort_by_key(|(_, c)| c.status);
    let mut out = String::from(intro.trim_end());
    out.push('\n');
    let mut current = 0;
    for (owner, code) in all {
        if code.status != current {
            current = code.status;
            let _ = write!(out, "\n## {}\n", section(current));
        }
        let _ = write!(
            out,
            "\n### {}\n*{} · {owner}* — “{}” / “{}”\n\n{}",
            code.code,
            code.status,
            code.zh,
            code.en,
            code.doc
                .lines()
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end()
        );
        out.push('\n');
    }
    out
}

/// Every code of the tables, checked: unique, SCREAMING_SNAKE_CASE, an error status,
/// both messages and a documentation text. The server refuses to start otherwise.
pub fn check(catalogues: &[Catalogue]) -> Result<(), String> {
    let mut seen = std::collections::HashMap::new();
    for catalogue in catalogues {
        for code in catalogue.codes {
            if let Some(first) = seen.insert(code.code, catalogue.owner) {
                return Err(format!(
                    "error code {} is declared by both {first} and {}",
                    code.code, catalogue.owner
                ));
            }
            let screaming = !code.code.is_empty()
                && code
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !screaming || !(400..600).contains(&code.status) {
                return Err(format!("error code {} is malformed", code.code));
            }
            if code.zh.is_empty() || code.en.is_empty() || code.doc.trim().is_empty() {
                return Err(format!(
                    "error code {} lacks a message or its documentation",
                    code.code
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        let zh = Lang::Zh;
        assert_eq!(Lang::negotiate(None, zh), Lang::Zh);
        assert_eq!(Lang::negotiate(Some("en-US,en;q=0.9"), zh), Lang::En);
        assert_eq!(Lang::negotiate(Some("zh-CN;q=0.8, en;q=0.9"), zh), Lang::En);
        assert_eq!(
            Lang::negotiate(Some("fr-FR, zh-TW;q=0.5"), Lang::En),
            Lang::Zh
        );
        assert_eq!(Lang::negotiate(Some("fr-FR"), Lang::En), Lang::En);
        assert_eq!(Lang::negotiate(Some("en;q=0"), zh), Lang::Zh);
        assert_eq!(Lang::negotiate(Some(";;,=q"), Lang::En), Lang::En);
    }

    #[test]
    fn messages_name_details_in_braces() {
        let details = json!({ "provider": "tencent", "limit": 5, "none": null });
        assert_eq!(
            fill("{provider} 暂时不可用（{limit}）", &details),
            "tencent 暂时不可用（5）"
        );
        assert_eq!(
            fill("{missing} {none} {Not a field}", &details),
            "{missing} {none} {Not a field}"
        );
        assert_eq!(fill("no braces", &details), "no braces");
        assert_eq!(fill("unclosed {provider", &details), "unclosed {provider");
    }

    crate::error_codes! {
        enum Sample {
            /// First.
            One = (409, "SAMPLE_ONE", "一", "one"),
            /// Second,
            /// on two lines.
            Two = (503, "SAMPLE_TWO", "二 {x}", "two {x}"),
        }
    }

    #[test]
    fn tables_index_by_variant_and_render_docs() {
        assert_eq!(Sample::Two.def().code, "SAMPLE_TWO");
        assert_eq!(Sample::One.err().status.as_u16(), 409);
        let catalogues = [Catalogue {
            owner: "sample",
            codes: Sample::ALL,
        }];
        assert!(check(&catalogues).is_ok());
        let doc = markdown("# Intro", &catalogues);
        assert!(
            doc.contains(
                "## 409 Conflict\n\n### SAMPLE_ONE\n*409 · sample* — “一” / “one”\n\nFirst."
            ),
            "{doc}"
        );
        assert!(doc.contains("Second,\non two lines."), "{doc}");
        let twice = [catalogues[0], catalogues[0]];
        assert!(check(&twice).unwrap_err().contains("both"));
    }
}
