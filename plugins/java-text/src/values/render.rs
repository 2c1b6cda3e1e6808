//! Values as text, as Kafka's `Values.convertToString` writes them.

use sluice_sdk::data::{Schema, Value};

use crate::time::{MILLIS_PER_DAY, civil_from_days};
use crate::{Logical, base64_encode, double_to_string, float_to_string};

/// Appends the string form of `value` (Kafka's `Values.append`). Inside a
/// list, map or struct (`embedded`), strings and bytes are quoted.
pub fn append(out: &mut String, schema: Option<&Schema>, value: &Value, embedded: bool) {
    match Logical::of(schema, value) {
        Some(Logical::Decimal(text)) => return out.push_str(text.as_deref().unwrap_or("null")),
        Some(Logical::Instant(millis)) => return out.push_str(&format_date(millis)),
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
        Value::String(v) => {
            if embedded {
                out.push('"');
                out.push_str(&v.replace('\\', "\\\\").replace('"', "\\\""));
                out.push('"');
            } else {
                out.push_str(v);
            }
        }
        Value::Bytes(v) => {
            if embedded {
                out.push('"');
            }
            out.push_str(&base64_encode(v));
            if embedded {
                out.push('"');
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, item_schema, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key.as_deref());
            let value_schema = schema.and_then(|s| s.value.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, key_schema, k, true);
                out.push(':');
                append(out, value_schema, v, true);
            }
            out.push('}');
        }
        Value::Struct(fields) => {
            // In the schema's order where there is one, as Kafka walks it.
            let order: Vec<(&str, Option<&Schema>)> = match schema {
                Some(schema) if !schema.fields.is_empty() => schema
                    .fields
                    .iter()
                    .map(|(name, s)| (name.as_str(), Some(s)))
                    .collect(),
                _ => fields
                    .iter()
                    .map(|(name, _)| (name.as_str(), None))
                    .collect(),
            };
            out.push('{');
            for (i, (name, field_schema)) in order.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, None, &Value::String(name.to_string()), true);
                out.push(':');
                let field = value.field(name).unwrap_or(&Value::Null);
                // Struct.get: a null field reads as its default.
                let field = match (field, field_schema.and_then(|s| s.default.as_deref())) {
                    (Value::Null, Some(default)) => default,
                    (field, _) => field,
                };
                append(out, field_schema, field, true);
            }
            out.push('}');
        }
    }
}

/// Kafka's `Values.dateFormatFor`, in UTC: before the end of the first day
/// of the epoch a time (`HH:mm:ss.SSS'Z'`), at a midnight a date
/// (`yyyy-MM-dd`), else a timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`).
pub fn format_date(millis: i64) -> String {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let in_day = millis.rem_euclid(MILLIS_PER_DAY);
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    );
    if millis < MILLIS_PER_DAY {
        return time;
    }
    let (year, month, day) = civil_from_days(days);
    let date = format!("{year:04}-{month:02}-{day:02}");
    if in_day == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}
