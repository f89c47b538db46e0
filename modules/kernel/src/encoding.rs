//! Percent-encodings the outside systems sign over, byte for byte:
//!
//! - [`rfc3986`]: RFC 3986 unreserved (`A–Z a–z 0–9 - _ . ~`) kept, everything else
//!   `%XX` upper-case — Aliyun, Tencent Cloud, COS, AWS SigV4;
//! - [`rfc3986_path`]: the same with `/` kept (object paths);
//! - [`quote_plus`] / [`form`]: Python's `urlencode(quote_via=quote_plus)` — the same set,
//!   but a space is `+` (as several providers' SDKs encode forms).
//!
//! The sets are built on the `percent-encoding` crate; WHATWG form encoding (what
//! `form_urlencoded` writes) differs: it keeps `*` and escapes `~`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

pub fn rfc3986(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

pub fn rfc3986_path(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED_AND_SLASH).to_string()
}

/// Appends [`quote_plus`] of `value` to `out` (one buffer for a whole request).
pub fn push_quote_plus(out: &mut String, value: &str) {
    for chunk in utf8_percent_encode(value, UNRESERVED) {
        // The encoder yields a space as its own "%20" chunk; a literal "%20" in the
        // input is yielded as "%25" + "20", so this replaces spaces only.
        out.push_str(if chunk == "%20" { "+" } else { chunk });
    }
}

pub fn quote_plus(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    push_quote_plus(&mut out, value);
    out
}

/// `k=v&k=v` in the given order, each side [`rfc3986`]-encoded (a query string as the
/// cloud APIs sign and send it).
pub fn rfc3986_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986(k.as_ref()), rfc3986(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// `k=v&k=v` in the given order, each side [`quote_plus`]-encoded.
pub fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let size: usize = pairs
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() * 3 + 2)
        .sum();
    let mut out = String::with_capacity(size);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push_quote_plus(&mut out, k.as_ref());
        out.push('=');
        push_quote_plus(&mut out, v.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_match_the_providers() {
        assert_eq!(rfc3986("a b*~+/:"), "a%20b%2A~%2B%2F%3A");
        assert_eq!(rfc3986("腾"), "%E8%85%BE");
        assert_eq!(rfc3986_path("/a b/c~"), "/a%20b/c~");
        assert_eq!(quote_plus("a+b/c= x~*"), "a%2Bb%2Fc%3D+x~%2A");
        assert_eq!(quote_plus("100%20"), "100%2520");
        assert_eq!(form(&[("k 1", "v&w"), ("z", "")]), "k+1=v%26w&z=");
        assert_eq!(
            rfc3986_query(&[("k 1", "v&w"), ("z", "")]),
            "k%201=v%26w&z="
        );
    }
}
