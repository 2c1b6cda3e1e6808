//! `string`: Kafka's `StringConverter`. Bytes read as an optional STRING in
//! the configured encoding (`converter.encoding`, UTF-8 by default); any
//! value is written as Java's `toString()` of it would be: a string as it
//! is, numbers as Java prints them, lists as `[a, b]`, maps as `{k=v}`,
//! structs as `Struct{name=value}`.
//!
//! The character sets are written here rather than taken from `encoding_rs`,
//! because that crate follows the WHATWG Encoding Standard, which is not
//! Java's `Charset` under the same names, and for none of the six charsets
//! does it give the semantics the converter tests assert:
//! - ISO-8859-1 (and `latin1`, `l1`, `cp819`) and US-ASCII (`ascii`) are
//!   labels of windows-1252 there. Writing `hé€` gives `68 E9 80` where
//!   Java's `getBytes` gives `68 E9 3F` (the tests' `h\xE9?`); byte 0x80
//!   reads as `€` (U+20AC) where Java's ISO-8859-1 reads U+0080 and its
//!   US-ASCII has no character; a character windows-1252 lacks is written
//!   as an HTML reference (`Ā` as `&#256;`), never as `?`. Its
//!   `mem::decode_latin1` does read Latin-1 as Java does, but the writing
//!   side (`mem::encode_latin1_lossy`) is unspecified beyond U+00FF (`€`
//!   came out as 0x82) and the reading is one line here: no gain.
//! - UTF-16: the label means UTF-16LE there, where Java's UTF-16 reads big
//!   endian when no byte order mark says otherwise, and WHATWG's UTF-16
//!   encoders write UTF-8 (`hé` as `68 C3 A9`, not the tests'
//!   `FE FF 00 68 00 E9`).
//! - UTF-8: its decoder drops a leading byte order mark, which Java keeps
//!   as U+FEFF; and Rust's strings are UTF-8 already.
//! - Malformed input (a bad UTF-8 sequence, an odd UTF-16 byte count, an
//!   unpaired surrogate, a byte above 0x7F in US-ASCII) becomes U+FFFD
//!   there, as in Java's `new String(bytes, charset)`; this converter
//!   refuses it instead, and its tests assert that refusal ("not valid
//!   UTF-8").

use java_text::time::{MILLIS_PER_DAY, civil_from_days};
use java_text::{Logical, base64_encode, double_to_string, float_to_string};
use sluice_sdk::data::{Schema, SchemaType, StructuredValue, Value, logical};
use sluice_sdk::prelude::*;

const ENCODING: &str = "converter.encoding";

/// The character sets this converter speaks, by Java's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Utf8,
    /// Java's "UTF-16": big-endian with a byte order mark when writing; a
    /// byte order mark, if any, decides when reading.
    Utf16,
    Utf16Be,
    Utf16Le,
    Latin1,
    Ascii,
}

impl Encoding {
    fn by_name(name: &str) -> Option<Encoding> {
        let normalized = name.trim().to_ascii_uppercase().replace('_', "-");
        Some(match normalized.as_str() {
            "UTF-8" | "UTF8" => Encoding::Utf8,
            "UTF-16" | "UTF16" => Encoding::Utf16,
            "UTF-16BE" | "UNICODEBIGUNMARKED" | "X-UTF-16BE" => Encoding::Utf16Be,
            "UTF-16LE" | "UNICODELITTLEUNMARKED" | "X-UTF-16LE" => Encoding::Utf16Le,
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "ISO-LATIN-1" | "L1" | "CP819" => {
                Encoding::Latin1
            }
            "US-ASCII" | "ASCII" | "ISO646-US" => Encoding::Ascii,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16 => "UTF-16",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Latin1 => "ISO-8859-1",
            Encoding::Ascii => "US-ASCII",
        }
    }

    /// Java's `String.getBytes(charset)`: a character the charset cannot
    /// hold becomes `?`.
    fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => s.as_bytes().to_vec(),
            Encoding::Utf16 => [0xFE, 0xFF]
                .into_iter()
                .chain(s.encode_utf16().flat_map(u16::to_be_bytes))
                .collect(),
            Encoding::Utf16Be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            Encoding::Utf16Le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            Encoding::Latin1 => s
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
            Encoding::Ascii => s
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect(),
        }
    }

    /// The text of `bytes`, or why they are not text in this encoding.
    fn decode(self, bytes: Vec<u8>) -> Result<String, String> {
        let utf16 = |bytes: &[u8], big_endian: bool| -> Result<String, String> {
            if !bytes.len().is_multiple_of(2) {
                return Err(format!(
                    "{} bytes are an odd number for UTF-16",
                    bytes.len()
                ));
            }
            let units = bytes.chunks(2).map(|p| {
                if big_endian {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            });
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|e| format!("unpaired surrogate 0x{:04x}", e.unpaired_surrogate()))
        };
        let result = match self {
            Encoding::Utf8 => String::from_utf8(bytes).map_err(|e| e.utf8_error().to_string()),
            Encoding::Utf16 => match bytes.as_slice() {
                [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
                [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
                rest => utf16(rest, true),
            },
            Encoding::Utf16Be => utf16(&bytes, true),
            Encoding::Utf16Le => utf16(&bytes, false),
            Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Encoding::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
                Some(at) => Err(format!("byte 0x{:02x} at {at} is not ASCII", bytes[at])),
                None => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            },
        };
        result.map_err(|e| {
            format!(
                "Failed to deserialize string: the bytes are not valid {}: {e}",
                self.name()
            )
        })
    }
}

fn encoding(config: &Config) -> Result<Encoding, ConfigIssue> {
    let raw = config.get(ENCODING).unwrap_or("UTF-8");
    Encoding::by_name(raw).ok_or_else(|| ConfigIssue {
        key: ENCODING.into(),
        message: format!(
            "Unsupported encoding \"{raw}\" for configuration {ENCODING}: supported are UTF-8, \
             UTF-16, UTF-16BE, UTF-16LE, ISO-8859-1 and US-ASCII"
        ),
    })
}

pub struct StringConverter {
    encoding: Encoding,
}

impl Converter for StringConverter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "string",
            env!("CARGO_PKG_VERSION"),
            "Reads bytes as strings and writes any value as its string form, as Kafka's \
             StringConverter",
        )
        .alias("org.apache.kafka.connect.storage.StringConverter")
        .alias("StringConverter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                ENCODING,
                ConfigType::String,
                Importance::High,
                "The name of the Java character set to use for encoding strings as byte arrays.",
            )
            .default_value("UTF-8"),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        encoding(config).err().into_iter().collect()
    }

    fn create(config: Config, _is_key: bool) -> Result<Self> {
        let encoding = encoding(&config).map_err(|issue| ConnectError::fatal(issue.message))?;
        Ok(StringConverter { encoding })
    }

    fn to_data(&mut self, _topic: &str, bytes: Option<Vec<u8>>) -> Result<Option<Data>, String> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let text = self.encoding.decode(bytes)?;
        Ok(Some(Data::structured(
            Some(Schema::of(SchemaType::String).optional()),
            Value::String(text),
        )))
    }

    fn from_data(&mut self, _topic: &str, data: Option<Data>) -> Result<Option<Vec<u8>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        if let Data::Raw(bytes) = data {
            return Ok(Some(bytes));
        }
        let StructuredValue { schema, value } = data.to_tree()?;
        let text = match (&value, &schema) {
            (Value::Null, _) => return Ok(None),
            // Java's byte[].toString() says nothing of the content; the
            // bytes themselves are the only useful string form.
            (Value::Bytes(bytes), schema) if !is_decimal(schema.as_ref()) => {
                return Ok(Some(bytes.clone()));
            }
            (Value::String(s), _) => s.clone(),
            _ => {
                let mut out = String::new();
                to_java_string(&mut out, schema.as_ref(), &value);
                out
            }
        };
        Ok(Some(self.encoding.encode(&text)))
    }
}

fn is_decimal(schema: Option<&Schema>) -> bool {
    schema.is_some_and(|s| s.name.as_deref() == Some(logical::DECIMAL))
}

/// Java's `toString()` of the value Kafka would hold: `BigDecimal` for a
/// Decimal, `java.util.Date` (in UTC) for the temporal types, collections
/// as `AbstractCollection` and `AbstractMap` print them, `Struct` as Kafka
/// prints it (its non-null fields).
fn to_java_string(out: &mut String, schema: Option<&Schema>, value: &Value) {
    match Logical::of(schema, value) {
        Some(Logical::Decimal(text)) => return out.push_str(text.as_deref().unwrap_or("null")),
        Some(Logical::Instant(millis)) => return java_date(out, millis),
        None => {}
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
        Value::Int8(v) => out.push_str(&v.to_string()),
        Value::Int16(v) => out.push_str(&v.to_string()),
        Value::Int32(v) => out.push_str(&v.to_string()),
        Value::Int64(v) => out.push_str(&v.to_string()),
        Value::Float32(v) => out.push_str(&float_to_string(*v)),
        Value::Float64(v) => out.push_str(&double_to_string(*v)),
        Value::String(v) => out.push_str(v),
        // Nested bytes: Base64, as Kafka's Values prints them.
        Value::Bytes(v) => out.push_str(&base64_encode(v)),
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                to_java_string(out, item_schema, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key.as_deref());
            let value_schema = schema.and_then(|s| s.value.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                to_java_string(out, key_schema, k);
                out.push('=');
                to_java_string(out, value_schema, v);
            }
            out.push('}');
        }
        Value::Struct(fields) => {
            out.push_str("Struct{");
            let mut first = true;
            for (name, field) in fields {
                if *field == Value::Null {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(name);
                out.push('=');
                to_java_string(out, schema.and_then(|s| s.field(name)), field);
            }
            out.push('}');
        }
    }
}

/// `java.util.Date.toString()` in UTC: `Thu Jan 01 00:00:00 UTC 1970`.
fn java_date(out: &mut String, millis: i64) {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let seconds = millis.rem_euclid(MILLIS_PER_DAY) / 1000;
    let (year, month, day) = civil_from_days(days);
    out.push_str(&format!(
        "{} {} {day:02} {:02}:{:02}:{:02} UTC {year}",
        DAYS[(days + 4).rem_euclid(7) as usize],
        MONTHS[month as usize - 1],
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
    ));
}

sluice_sdk::export_converter!(StringConverter);

#[cfg(test)]
mod tests {
    use super::*;

    // Java's charsets where WHATWG's (encoding_rs) differ: see the module
    // documentation.

    #[test]
    fn latin1_and_ascii_are_not_windows_1252() {
        assert_eq!(Encoding::by_name("ISO-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::by_name("latin1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::Latin1.encode("hé€Ā"), b"h\xE9??");
        assert_eq!(
            Encoding::Latin1.decode(vec![0x68, 0x80]).unwrap(),
            "h\u{80}"
        );
        assert_eq!(Encoding::Ascii.encode("hé€"), b"h??");
        assert!(
            Encoding::Ascii
                .decode(vec![0x68, 0x80])
                .unwrap_err()
                .contains("not valid US-ASCII")
        );
    }

    #[test]
    fn utf16_is_big_endian_unless_marked() {
        assert_eq!(Encoding::by_name("UTF-16"), Some(Encoding::Utf16));
        assert_eq!(
            Encoding::Utf16.encode("hé"),
            [0xFE, 0xFF, 0x00, b'h', 0x00, 0xE9]
        );
        assert_eq!(Encoding::Utf16.decode(vec![0x00, b'h']).unwrap(), "h");
        assert_eq!(
            Encoding::Utf16
                .decode(vec![0xFF, 0xFE, b'h', 0x00])
                .unwrap(),
            "h"
        );
        assert_eq!(Encoding::Utf16Le.encode("h"), [b'h', 0x00]);
        assert!(Encoding::Utf16Be.decode(vec![0x00, b'h', 0x00]).is_err());
    }

    #[test]
    fn utf8_keeps_a_byte_order_mark() {
        assert_eq!(
            Encoding::Utf8.decode(vec![0xEF, 0xBB, 0xBF, b'h']).unwrap(),
            "\u{FEFF}h"
        );
    }
}
