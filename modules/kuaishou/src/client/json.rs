//! The `param` JSON exactly as the SDK writes it (orjson): compact, keys in the order
//! given, non-ASCII as raw UTF-8, `\uXXXX` (lower-case) for the other C0 controls — all
//! of which serde_json's compact writer already does — and floats in orjson's notation,
//! which serde_json does not: plain for 1e-5 ≤ |x| < 1e16 with `.0` on integral values
//! (`0.00001`, `100.0`), otherwise `1e-6`, `1.5e-7`, `1e+16`.
//!
//! Only the float writer is ours: no crate writes orjson's notation, and the sign
//! covers these bytes.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// serde_json's compact formatting (the trait's defaults) with orjson's floats.
struct OrjsonFormatter;

impl Formatter for OrjsonFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(orjson_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        // orjson widens to a double: 0.1f32 is written as 0.10000000149011612.
        self.write_f64(writer, f64::from(value))
    }
}

/// Serialises `value` as the SDK's `param` text.
pub fn to_param_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, OrjsonFormatter);
    value.serialize(&mut ser)?;
    // serde_json writes valid UTF-8 only.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// One float in orjson's notation (shortest round-trip digits).
pub fn orjson_float(value: f64) -> String {
    if !value.is_finite() {
        return "null".into(); // orjson writes NaN and ±inf as null
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` gives the shortest digits that round-trip: "1.5e-7", "1e16", "0e0".
    let sci = format!("{:e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    if (-5..16).contains(&exp) {
        let plain = if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        return format!("{sign}{plain}");
    }
    let exp_sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{mantissa}e{exp_sign}{}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_follow_orjson() {
        for (x, want) in [
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (12.5, "12.5"),
            (0.35, "0.35"),
            (1e-5, "0.00001"),
            (1.5e-5, "0.000015"),
            (1e-6, "1e-6"),
            (1.5e-7, "1.5e-7"),
            (1e16, "1e+16"),
            (1.2345e20, "1.2345e+20"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456.789, "123456.789"),
            (-0.05, "-0.05"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "null"),
        ] {
            assert_eq!(orjson_float(x), want, "{x:e}");
        }
    }

    #[test]
    fn strings_and_structure_match_the_sdk() {
        let v = json!({ "b": "您好\n\t\"顺丰\" C:\\path 😀 / < > & '", "a": [1, null, {}, []], "c": "\u{1}\u{7f}\u{2028}" });
        assert_eq!(
            to_param_json(&v).unwrap(),
            "{\"b\":\"您好\\n\\t\\\"顺丰\\\" C:\\\\path 😀 / < > & '\",\"a\":[1,null,{},[]],\"c\":\"\\u0001\u{7f}\u{2028}\"}"
        );
    }
}
