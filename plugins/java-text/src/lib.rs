//! Java's text forms of the values Kafka Connect holds, which Kafka's
//! converters and transforms write and read: `Double.toString` and
//! `Float.toString` (as Jackson prints doubles and floats),
//! `BigDecimal.toString` (a Decimal's value), the two's-complement unscaled
//! value of a Decimal, Base64 (Jackson's binary nodes, Kafka's `Values`),
//! the calendar of the Date, Time and Timestamp types ([`time`]), and
//! Kafka's `Values.parseString` and `Values.convertToString` ([`values`]).
//!
//! A library linked into the json, string and simple-header converters and
//! into the transforms, so that each prints a value as the others do.

pub mod time;
pub mod values;

use sluice_sdk::data::{Schema, Value, logical};

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
                    BigInt::from_twos_complement(bytes)
                        .map(|unscaled| big_decimal_to_string(&unscaled, scale)),
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

/// An arbitrary-precision integer: the unscaled value of a Decimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BigInt {
    negative: bool,
    /// The magnitude in base 2^32, least significant limb first, without
    /// high zero limbs (zero is empty).
    limbs: Vec<u32>,
}

impl BigInt {
    /// Reads Java's `BigInteger(byte[])`: big-endian two's complement.
    /// `None` for no bytes, which Java refuses ("Zero length BigInteger").
    pub fn from_twos_complement(bytes: &[u8]) -> Option<BigInt> {
        let first = *bytes.first()?;
        let negative = first & 0x80 != 0;
        let magnitude: Vec<u8> = if negative {
            // Negate: invert every byte and add one.
            let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
            for byte in out.iter_mut().rev() {
                let (sum, carry) = byte.overflowing_add(1);
                *byte = sum;
                if !carry {
                    break;
                }
            }
            out
        } else {
            bytes.to_vec()
        };
        let mut limbs = Vec::with_capacity(magnitude.len() / 4 + 1);
        for chunk in magnitude.rchunks(4) {
            let mut limb = 0u32;
            for &b in chunk {
                limb = (limb << 8) | u32::from(b);
            }
            limbs.push(limb);
        }
        Some(BigInt { negative, limbs }.normalized())
    }

    /// Writes Java's `BigInteger.toByteArray()`: the shortest big-endian
    /// two's complement.
    pub fn to_twos_complement(&self) -> Vec<u8> {
        let mut magnitude: Vec<u8> = self
            .limbs
            .iter()
            .rev()
            .flat_map(|limb| limb.to_be_bytes())
            .skip_while(|&b| b == 0)
            .collect();
        if !self.negative {
            if magnitude.first().is_none_or(|&b| b & 0x80 != 0) {
                magnitude.insert(0, 0);
            }
            return magnitude;
        }
        magnitude.insert(0, 0);
        for byte in magnitude.iter_mut() {
            *byte = !*byte;
        }
        for byte in magnitude.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        let redundant = magnitude
            .windows(2)
            .take_while(|pair| pair[0] == 0xff && pair[1] & 0x80 != 0)
            .count();
        magnitude.drain(..redundant);
        magnitude
    }

    /// The integer with `digits` (ASCII decimal digits) as its magnitude.
    pub fn from_decimal(negative: bool, digits: &str) -> BigInt {
        let mut limbs: Vec<u32> = Vec::new();
        let bytes = digits.as_bytes();
        let head = bytes.len() % 9;
        let chunks = std::iter::once(&bytes[..head]).chain(bytes[head..].chunks(9));
        for chunk in chunks.filter(|c| !c.is_empty()) {
            let mut add = chunk
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            let factor = 10u64.pow(chunk.len() as u32);
            for limb in limbs.iter_mut() {
                let product = u64::from(*limb) * factor + add;
                *limb = product as u32;
                add = product >> 32;
            }
            if add != 0 {
                limbs.push(add as u32);
            }
        }
        BigInt { negative, limbs }.normalized()
    }

    /// The decimal digits of the magnitude (`"0"` for zero).
    pub fn magnitude_digits(&self) -> String {
        if self.limbs.is_empty() {
            return "0".into();
        }
        let mut limbs = self.limbs.clone();
        let mut groups = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            groups.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut out = groups.pop().map(|g| g.to_string()).unwrap_or_default();
        for group in groups.iter().rev() {
            out.push_str(&format!("{group:09}"));
        }
        out
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The value as an `i64`, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        if self.limbs.len() > 2 {
            return None;
        }
        let magnitude = self
            .limbs
            .iter()
            .rev()
            .fold(0u64, |acc, &l| (acc << 32) | u64::from(l));
        if self.negative {
            if magnitude <= 1u64 << 63 {
                Some((magnitude as i64).wrapping_neg())
            } else {
                None
            }
        } else {
            i64::try_from(magnitude).ok()
        }
    }

    fn normalized(mut self) -> BigInt {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
        if self.limbs.is_empty() {
            self.negative = false;
        }
        self
    }
}

/// Java's `BigDecimal.toString()` of `unscaled` × 10^-`scale`.
pub fn big_decimal_to_string(unscaled: &BigInt, scale: i32) -> String {
    let coeff = unscaled.magnitude_digits();
    let mut out = String::with_capacity(coeff.len() + 8);
    if unscaled.is_negative() {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&coeff);
        return out;
    }
    let adjusted = -i64::from(scale) + (coeff.len() as i64 - 1);
    if scale > 0 && adjusted >= -6 {
        let pad = i64::from(scale) - coeff.len() as i64;
        if pad >= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', pad as usize));
            out.push_str(&coeff);
        } else {
            let int_len = (-pad) as usize;
            out.push_str(&coeff[..int_len]);
            out.push('.');
            out.push_str(&coeff[int_len..]);
        }
    } else {
        out.push_str(&coeff[..1]);
        if coeff.len() > 1 {
            out.push('.');
            out.push_str(&coeff[1..]);
        }
        if adjusted != 0 {
            out.push('E');
            if adjusted > 0 {
                out.push('+');
            }
            out.push_str(&adjusted.to_string());
        }
    }
    out
}

/// A decimal number read from text, as Java's `BigDecimal(String)`:
/// `digits` × 10^-`scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecimalText {
    pub negative: bool,
    /// The unscaled digits, without leading zeros (`"0"` for zero).
    pub digits: String,
    pub scale: i64,
}

impl DecimalText {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]` (at least one digit
    /// before or after the point), as Java's `BigDecimal(String)`.
    pub fn parse(text: &str) -> Option<DecimalText> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&sign) = bytes.first()
            && (sign == b'+' || sign == b'-')
        {
            negative = sign == b'-';
            i = 1;
        }
        let mut digits = String::new();
        let mut scale: i64 = 0;
        let mut seen_digit = false;
        let mut seen_point = false;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => {
                    digits.push(b as char);
                    seen_digit = true;
                    if seen_point {
                        scale += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return None,
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        if i < bytes.len() {
            // The exponent.
            let raw = &text[i + 1..];
            let unsigned = raw.strip_prefix(['+', '-']).unwrap_or(raw);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let exponent: i64 = unsigned.parse().ok()?;
            if exponent > i64::from(i32::MAX) {
                return None;
            }
            scale += if raw.starts_with('-') {
                exponent
            } else {
                -exponent
            };
        }
        if scale.unsigned_abs() > i32::MAX as u64 {
            return None;
        }
        let trimmed = digits.trim_start_matches('0');
        let digits = if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        };
        Some(DecimalText {
            negative: negative && digits != "0",
            digits,
            scale,
        })
    }

    /// The unscaled value at `scale`, if the number has no more fraction
    /// digits than that (no rounding); `None` otherwise.
    pub fn unscaled_at(&self, scale: i32) -> Option<BigInt> {
        let scale = i64::from(scale);
        if scale >= self.scale {
            if self.digits == "0" {
                return Some(BigInt::from_decimal(false, "0"));
            }
            // A guard against absurd exponents: no decimal needs a million digits.
            if scale - self.scale + self.digits.len() as i64 > 1_000_000 {
                return None;
            }
            let zeros = (scale - self.scale) as usize;
            let mut digits = self.digits.clone();
            digits.extend(std::iter::repeat_n('0', zeros));
            Some(BigInt::from_decimal(self.negative, &digits))
        } else {
            let drop = (self.scale - scale) as usize;
            if self.digits == "0" {
                return Some(BigInt::from_decimal(false, "0"));
            }
            if drop > self.digits.len() {
                return None;
            }
            let (keep, dropped) = self.digits.split_at(self.digits.len() - drop);
            if dropped.bytes().any(|b| b != b'0') {
                return None;
            }
            Some(BigInt::from_decimal(self.negative, keep))
        }
    }

    /// The value as an integer, if it is one (`1.0` and `1e2` are).
    pub fn integer(&self) -> Option<BigInt> {
        self.unscaled_at(0)
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with padding (Jackson's default variant, Java's
/// `Base64.getEncoder()`).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(BASE64_ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard Base64, padding optional; `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

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
    fn big_decimals_print_as_java_prints_them() {
        let d = |unscaled: &str, scale| {
            let (negative, digits) = match unscaled.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, unscaled),
            };
            big_decimal_to_string(&BigInt::from_decimal(negative, digits), scale)
        };
        assert_eq!(d("156", 2), "1.56");
        assert_eq!(d("1", 10), "1E-10");
        assert_eq!(d("0", 2), "0.00");
        assert_eq!(d("1", -3), "1E+3");
        assert_eq!(d("-12345", 3), "-12.345");
        assert_eq!(d("1", 7), "1E-7");
        assert_eq!(d("1", 6), "0.000001");
        assert_eq!(d("123", 8), "0.00000123");
        assert_eq!(
            d("123456789012345678901234567890", 0),
            "123456789012345678901234567890"
        );
    }

    #[test]
    fn twos_complement_round_trips() {
        for (bytes, digits, negative) in [
            (vec![0u8], "0", false),
            (vec![0x7f], "127", false),
            (vec![0x00, 0x80], "128", false),
            (vec![0xff], "1", true),
            (vec![0x80], "128", true),
            (vec![0xff, 0x7f], "129", true),
            (vec![0x01, 0x00, 0x00, 0x00, 0x00], "4294967296", false),
        ] {
            let n = BigInt::from_twos_complement(&bytes).unwrap();
            assert_eq!(
                (n.magnitude_digits().as_str(), n.is_negative()),
                (digits, negative)
            );
            assert_eq!(
                BigInt::from_decimal(negative, digits).to_twos_complement(),
                bytes
            );
        }
        // Not the shortest form: read, and written shortest.
        let n = BigInt::from_twos_complement(&[0xff, 0xff, 0xfe]).unwrap();
        assert_eq!(n.to_twos_complement(), vec![0xfe]);
    }

    #[test]
    fn decimal_text_rescales_without_rounding() {
        let d = DecimalText::parse("1.5").unwrap();
        assert_eq!(d.unscaled_at(2).unwrap().magnitude_digits(), "150");
        assert!(
            DecimalText::parse("1.555")
                .unwrap()
                .unscaled_at(2)
                .is_none()
        );
        assert_eq!(
            DecimalText::parse("1e2")
                .unwrap()
                .integer()
                .unwrap()
                .to_i64(),
            Some(100)
        );
        assert_eq!(
            DecimalText::parse("-0.0")
                .unwrap()
                .integer()
                .unwrap()
                .to_i64(),
            Some(0)
        );
        assert!(DecimalText::parse("1e+-2").is_none());
        assert!(DecimalText::parse(".").is_none());
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
}
