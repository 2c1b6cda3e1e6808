//! Java's text forms of the values Kafka Connect holds, which Kafka's
//! converters and transforms write and read: `Double.toString` and
//! `Float.toString` (as Jackson prints doubles and floats), `BigDecimal`
//! with its text and its two's-complement unscaled value ([`decimal`], the
//! Decimal type), Base64 (Jackson's binary nodes, Kafka's `Values`), the
//! calendar of the Date, Time and Timestamp types ([`time`]), and Kafka's
//! `Values.parseString` and `Values.convertToString` ([`values`]).
//!
//! A library linked into the json, string and simple-header converters, the
//! JDBC connectors and the transforms, so that each prints a value as the
//! others do.

pub mod decimal;
pub mod time;
pub mod values;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use sluice_sdk::data::{Schema, Value, logical};

use decimal::BigDecimal;

/// A value of a logical type, as Java holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logical {
    /// A Decimal as `BigDecimal.toString` prints it, or `None` when its
    /// bytes are not an unscaled value.
    Decimal(Option<String>),
    /// A Date, Time or Timestamp: milliseconds since the epoch, as the
    /// `java.util.Date` Kafka holds it.
    Instant(i64),
}

impl Logical {
    /// `value` as its logical type when `schema` names one it fits.
    pub fn of(schema: Option<&Schema>, value: &Value) -> Option<Logical> {
        let schema = schema?;
        match (schema.name.as_deref()?, value) {
            (logical::DECIMAL, Value::Bytes(bytes)) => {
                let scale = schema
                    .parameter(logical::DECIMAL_SCALE)
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                Some(Logical::Decimal(
                    BigDecimal::from_unscaled_bytes(bytes, scale).map(|d| d.to_java_string()),
                ))
            }
            (logical::DATE, Value::Int32(days)) => {
                Some(Logical::Instant(i64::from(*days) * time::MILLIS_PER_DAY))
            }
            (logical::TIME, Value::Int32(millis)) => Some(Logical::Instant(i64::from(*millis))),
            (logical::TIMESTAMP, Value::Int64(millis)) => Some(Logical::Instant(*millis)),
            _ => None,
        }
    }
}

/// Java's `Double.toString` (JDK 19 and later: the shortest decimal that
/// reads back as the same double).
pub fn double_to_string(v: f64) -> String {
    if let Some(special) = special_text(v) {
        return special.into();
    }
    let (digits, exponent) = java_digits(
        &format!("{:e}", v.abs()),
        || format!("{:.1e}", v.abs()),
        |s| s.parse::<f64>().ok() == Some(v.abs()),
    );
    layout(v < 0.0, &digits, exponent)
}

/// Java's `Float.toString`, by the same rules as [`double_to_string`]
/// (the digits are the shortest that read back as the same float).
pub fn float_to_string(v: f32) -> String {
    if let Some(special) = special_text(f64::from(v)) {
        return special.into();
    }
    let (digits, exponent) = java_digits(
        &format!("{:e}", v.abs()),
        || format!("{:.1e}", v.abs()),
        |s| s.parse::<f32>().ok() == Some(v.abs()),
    );
    layout(v < 0.0, &digits, exponent)
}

/// How Java prints NaN, the infinities and the signed zeros, which keep
/// what they are when a float widens to a double.
fn special_text(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        Some(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else if v == 0.0 {
        Some(if v.is_sign_negative() { "-0.0" } else { "0.0" })
    } else {
        None
    }
}

/// The significant digits and decimal exponent Java picks, from Rust's
/// shortest round-trip form (`d.ddde-x`). Where the shortest form has one
/// digit, Java takes the two-digit decimal closest to the value if it reads
/// back the same (`4.9E-324`, where Rust writes `5e-324`).
fn java_digits(
    shortest: &str,
    two_digits: impl Fn() -> String,
    reads_back: impl Fn(&str) -> bool,
) -> (String, i32) {
    let (digits, exponent) = split_scientific(shortest);
    if digits.len() == 1 {
        let candidate = two_digits();
        if reads_back(&candidate) {
            let (two, exp2) = split_scientific(&candidate);
            let two = two.trim_end_matches('0').to_string();
            if !two.is_empty() {
                return (two, exp2);
            }
        }
    }
    (digits, exponent)
}

/// `1.25e-3` as (`"125"`, -3).
fn split_scientific(text: &str) -> (String, i32) {
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exponent.parse().unwrap_or(0))
}

/// Java's layout of a double: plain between 10^-3 and 10^7, computerized
/// scientific notation outside, always a digit after the point.
fn layout(negative: bool, digits: &str, exponent: i32) -> String {
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if (-3..7).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        out.push('E');
        out.push_str(&exponent.to_string());
    }
    out
}

/// Java's `Base64.getEncoder()` (Jackson's default variant too): the
/// standard alphabet, padded.
pub fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Standard Base64, padding optional and left-over bits ignored; `None`
/// for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    // Any run of trailing `=` goes, as it always has here: the engine then
    // sees the unpadded form it is configured for.
    LENIENT.decode(text.trim_end_matches('=')).ok()
}

/// `STANDARD`'s alphabet, decoded leniently: `STANDARD` refuses unpadded
/// text (`Zg`) and a last character with bits left over (`Zh==`), both of
/// which Java's `Base64.getDecoder()` reads and this decoder always has.
/// (Java refuses a wrong amount of padding, `Zg=`, which the trim in
/// [`base64_decode`] keeps reading as before.)
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_prints_them() {
        for (v, java) in [
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (100.0, "100.0"),
            (1e10, "1.0E10"),
            (1.5e-4, "1.5E-4"),
            (0.001, "0.001"),
            (1234567.0, "1234567.0"),
            (1e7, "1.0E7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (4.9e-324, "4.9E-324"),
            (f64::MAX, "1.7976931348623157E308"),
            (1e23, "1.0E23"),
            (2e23, "2.0E23"),
            (123.456, "123.456"),
        ] {
            assert_eq!(double_to_string(v), java, "{v:e}");
        }
        assert_eq!(double_to_string(f64::NAN), "NaN");
        assert_eq!(double_to_string(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn floats_print_as_java_prints_them() {
        for (v, java) in [
            (1.1f32, "1.1"),
            (0.1, "0.1"),
            (1.0e-5, "1.0E-5"),
            (123456.79, "123456.79"),
            (f32::MAX, "3.4028235E38"),
            (1.4e-45, "1.4E-45"),
            (3.0e10, "3.0E10"),
        ] {
            assert_eq!(float_to_string(v), java, "{v:e}");
        }
    }

    #[test]
    fn base64_round_trips() {
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
        ] {
            assert_eq!(base64_encode(bytes), text);
            assert_eq!(base64_decode(text).unwrap(), bytes);
        }
        assert!(base64_decode("Zm9v!").is_none());
    }

    #[test]
    fn base64_decodes_leniently() {
        for text in ["Zg", "Zh==", "Zg="] {
            assert_eq!(base64_decode(text).as_deref(), Some(&b"f"[..]), "{text}");
        }
        for text in ["Z", "Zg==Zg==", "Zm 9v", "Zm9v-_"] {
            assert!(base64_decode(text).is_none(), "{text}");
        }
    }
}
