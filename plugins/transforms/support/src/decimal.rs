//! Kafka Connect's `Decimal` logical type as Java's `BigDecimal` handles
//! it: the unscaled value is big-endian two's-complement bytes of any
//! length, so the arithmetic here works on decimal digit strings rather
//! than a fixed-width integer.

use sluice_sdk::Schema;
use sluice_sdk::data::logical::{DECIMAL, DECIMAL_SCALE};

/// The most digits a rescaled value may gain: a schema's scale is data,
/// and must not make a transform allocate without bound.
const MAX_DIGITS: usize = 100_000;

/// An arbitrary-precision decimal: `(-1)^negative * digits * 10^-scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BigDecimal {
    negative: bool,
    /// The magnitude of the unscaled value in decimal, without leading
    /// zeros (`"0"` for zero).
    digits: String,
    scale: i32,
}

/// Whether `schema` is the `Decimal` logical type.
pub fn is_decimal(schema: &Schema) -> bool {
    schema.name.as_deref() == Some(DECIMAL)
}

/// The scale of a `Decimal` schema.
pub fn scale_of(schema: &Schema) -> Result<i32, String> {
    let raw = schema
        .parameter(DECIMAL_SCALE)
        .ok_or_else(|| "Invalid Decimal schema: scale parameter not found.".to_string())?;
    raw.trim()
        .parse()
        .map_err(|_| format!("Invalid scale for Decimal logical type: {raw}"))
}

impl BigDecimal {
    /// The value of `Decimal` bytes at `scale`.
    pub fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> Self {
        let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
        let magnitude: Vec<u8> = if negative {
            // Two's complement: invert and add one.
            let mut m: Vec<u8> = bytes.iter().map(|b| !b).collect();
            for byte in m.iter_mut().rev() {
                let (sum, carry) = byte.overflowing_add(1);
                *byte = sum;
                if !carry {
                    break;
                }
            }
            m
        } else {
            bytes.to_vec()
        };
        BigDecimal {
            negative,
            digits: base256_to_decimal(&magnitude),
            scale,
        }
        .normalized()
    }

    /// Java's `new BigDecimal(text)`: an optional sign, digits with an
    /// optional point, an optional exponent.
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, body) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (number, exponent) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], body[at + 1..].parse::<i32>().ok()?),
            None => (body, 0),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let scale = i32::try_from(fraction.len()).ok()?.checked_sub(exponent)?;
        Some(
            BigDecimal {
                negative,
                digits: format!("{whole}{fraction}"),
                scale,
            }
            .normalized(),
        )
    }

    fn normalized(mut self) -> Self {
        let trimmed = self.digits.trim_start_matches('0');
        self.digits = if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        };
        if self.digits == "0" {
            self.negative = false;
        }
        self
    }

    /// The scale.
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.digits == "0"
    }

    /// The same value at `scale`, when that needs no rounding.
    pub fn with_scale(&self, scale: i32) -> Option<Self> {
        if scale >= self.scale {
            let zeros = usize::try_from(i64::from(scale) - i64::from(self.scale)).ok()?;
            if zeros > MAX_DIGITS {
                return None;
            }
            return Some(
                BigDecimal {
                    negative: self.negative,
                    digits: format!("{}{}", self.digits, "0".repeat(zeros)),
                    scale,
                }
                .normalized(),
            );
        }
        let drop = usize::try_from(i64::from(self.scale) - i64::from(scale)).ok()?;
        if self.is_zero() {
            return Some(BigDecimal {
                negative: false,
                digits: "0".into(),
                scale,
            });
        }
        if drop > self.digits.len()
            || !self.digits[self.digits.len() - drop..]
                .bytes()
                .all(|b| b == b'0')
        {
            return None;
        }
        Some(
            BigDecimal {
                negative: self.negative,
                digits: self.digits[..self.digits.len() - drop].to_string(),
                scale,
            }
            .normalized(),
        )
    }

    /// The unscaled value as `BigInteger.toByteArray()` writes it: minimal
    /// big-endian two's complement.
    pub fn to_unscaled_bytes(&self) -> Vec<u8> {
        let mut magnitude = decimal_to_base256(&self.digits);
        if !self.negative {
            if magnitude.first().is_none_or(|b| b & 0x80 != 0) {
                magnitude.insert(0, 0);
            }
            return magnitude;
        }
        // Negate: invert and add one, with room for the sign bit.
        magnitude.insert(0, 0);
        let mut bytes: Vec<u8> = magnitude.iter().map(|b| !b).collect();
        for byte in bytes.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        while bytes.len() > 1 && bytes[0] == 0xff && bytes[1] & 0x80 != 0 {
            bytes.remove(0);
        }
        bytes
    }

    /// `BigDecimal.toString()`: plain notation unless the scale is negative
    /// or the value is below 10^-6, then scientific (`1.23E+10`).
    pub fn to_java_string(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        let len = self.digits.len() as i64;
        let adjusted = -i64::from(self.scale) + (len - 1);
        if self.scale >= 0 && adjusted >= -6 {
            let scale = self.scale as usize;
            let text = if scale == 0 {
                self.digits.clone()
            } else if self.digits.len() > scale {
                let point = self.digits.len() - scale;
                format!("{}.{}", &self.digits[..point], &self.digits[point..])
            } else {
                format!("0.{}{}", "0".repeat(scale - self.digits.len()), self.digits)
            };
            return format!("{sign}{text}");
        }
        let mut text = format!("{sign}{}", &self.digits[..1]);
        if self.digits.len() > 1 {
            text.push('.');
            text.push_str(&self.digits[1..]);
        }
        text.push('E');
        if adjusted >= 0 {
            text.push('+');
        }
        text.push_str(&adjusted.to_string());
        text
    }

    /// `doubleValue()`, correctly rounded.
    pub fn to_f64(&self) -> f64 {
        self.to_java_string().parse().unwrap_or(f64::NAN)
    }

    /// `floatValue()`, correctly rounded.
    pub fn to_f32(&self) -> f32 {
        self.to_java_string().parse().unwrap_or(f32::NAN)
    }

    /// `longValue()`: the integer part, truncated toward zero, keeping its
    /// low 64 bits (as `intValue()` keeps the low 32, which `as i32` of
    /// this gives).
    pub fn to_i64_wrapping(&self) -> i64 {
        let integer_digits = if self.scale <= 0 {
            let zeros = usize::try_from(-i64::from(self.scale)).unwrap_or(usize::MAX);
            if zeros > 64 {
                // Multiplied by 10^65 or more, the low 64 bits are zero.
                return 0;
            }
            format!("{}{}", self.digits, "0".repeat(zeros))
        } else {
            let drop = self.scale as usize;
            if drop >= self.digits.len() {
                return 0;
            }
            self.digits[..self.digits.len() - drop].to_string()
        };
        let magnitude = integer_digits.bytes().fold(0i64, |acc, d| {
            acc.wrapping_mul(10).wrapping_add(i64::from(d - b'0'))
        });
        if self.negative {
            magnitude.wrapping_neg()
        } else {
            magnitude
        }
    }
}

/// Big-endian base-256 digits to decimal digits.
fn base256_to_decimal(bytes: &[u8]) -> String {
    let mut number: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if number.is_empty() {
        return "0".into();
    }
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = (current / 10) as u8;
            remainder = current % 10;
        }
        digits.push(b'0' + remainder as u8);
        let leading = number.iter().take_while(|b| **b == 0).count();
        number.drain(..leading);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Decimal digits to big-endian base-256 digits (empty for zero).
fn decimal_to_base256(digits: &str) -> Vec<u8> {
    let mut bytes: Vec<u8> = Vec::new(); // little-endian while building
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in bytes.iter_mut() {
            let current = u32::from(*byte) * 10 + carry;
            *byte = (current & 0xff) as u8;
            carry = current >> 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes.reverse();
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        for (bytes, scale, text) in [
            (vec![0x30, 0x39], 2, "123.45"),
            (vec![0xcf, 0xc7], 2, "-123.45"),
            (vec![0x00], 0, "0"),
            (vec![0x80], 0, "-128"),
            (vec![0x00, 0x80], 0, "128"),
            (vec![0x01], 3, "0.001"),
            (vec![0x01], 8, "1E-8"),
            (vec![0x0c], -2, "1.2E+3"),
        ] {
            let d = BigDecimal::from_unscaled_bytes(&bytes, scale);
            assert_eq!(d.to_java_string(), text);
            assert_eq!(d.to_unscaled_bytes(), bytes, "{text}");
        }
    }

    #[test]
    fn parses_and_rescales() {
        let d = BigDecimal::parse("-12.5").unwrap();
        assert_eq!(d.scale(), 1);
        assert_eq!(d.with_scale(3).unwrap().to_java_string(), "-12.500");
        assert!(d.with_scale(0).is_none());
        assert_eq!(BigDecimal::parse("1e2").unwrap().to_java_string(), "1E+2");
        assert!(BigDecimal::parse("x").is_none());
    }

    #[test]
    fn numbers_like_java() {
        let d = BigDecimal::parse("-1234.99").unwrap();
        assert_eq!(d.to_i64_wrapping(), -1234);
        assert_eq!(d.to_f64(), -1234.99);
        let big = BigDecimal::parse("18446744073709551617").unwrap();
        assert_eq!(big.to_i64_wrapping(), 1);
    }
}
