//! What Kafka's transforms print and parse through Java: the class names
//! their exception messages show for a value, `Double.toString` and
//! `Float.toString` (from java-text, shared with the converters), and
//! `Double.parseDouble`.

use sluice_sdk::Value;

/// The Java class Kafka Connect holds `value` in, as `getClass().getName()`
/// prints it (schemaless maps and arrays are Kafka's `HashMap` and
/// `ArrayList`).
pub fn class_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// `value.getClass()` as Java prints it in a message: `class java.lang.Long`.
pub fn class_of(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        other => format!("class {}", class_name(other)),
    }
}

/// `Double.toString` and `Float.toString`, as the converters print them.
pub use java_text::{double_to_string, float_to_string};

/// `Double.parseDouble(text)`: surrounding whitespace is ignored, a `d` or
/// `f` suffix allowed, and only `NaN` and `Infinity` spell the specials.
pub fn parse_double(text: &str) -> Option<f64> {
    rust_float_text(text)?.parse().ok()
}

/// `Float.parseFloat(text)`, as [`parse_double`] but rounded once, to a
/// float.
pub fn parse_float(text: &str) -> Option<f32> {
    rust_float_text(text)?.parse().ok()
}

/// Java's floating-point literal syntax rewritten for Rust's parser, or
/// `None` where Java would refuse it.
fn rust_float_text(text: &str) -> Option<String> {
    let text = text.trim();
    let (sign, unsigned) = match text.as_bytes().first()? {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    match unsigned {
        "NaN" => return Some("NaN".into()),
        "Infinity" => return Some(format!("{sign}inf")),
        _ => {}
    }
    if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let body = unsigned
        .strip_suffix(['d', 'D', 'f', 'F'])
        .unwrap_or(unsigned);
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    Some(format!("{sign}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java() {
        assert_eq!(double_to_string(1.0), "1.0");
        assert_eq!(double_to_string(-0.0), "-0.0");
        assert_eq!(double_to_string(123.456), "123.456");
        assert_eq!(double_to_string(0.001), "0.001");
        assert_eq!(double_to_string(0.0001), "1.0E-4");
        assert_eq!(double_to_string(1e7), "1.0E7");
        assert_eq!(double_to_string(1234567.0), "1234567.0");
        assert_eq!(double_to_string(1.5e300), "1.5E300");
        assert_eq!(float_to_string(0.1), "0.1");
        assert_eq!(float_to_string(2.5), "2.5");
    }

    #[test]
    fn parse_double_as_java() {
        assert_eq!(parse_double(" 1.5 "), Some(1.5));
        assert_eq!(parse_double("2f"), Some(2.0));
        assert_eq!(parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double("inf"), None);
        assert_eq!(parse_double("abc"), None);
        assert_eq!(parse_double("1e3"), Some(1000.0));
        assert_eq!(parse_float("0.1"), Some(0.1f32));
    }
}
