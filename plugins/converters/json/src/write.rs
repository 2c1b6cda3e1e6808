//! Connect data to JSON bytes, as Kafka's `JsonConverter.fromConnectData`
//! writes them through Jackson: `asJsonSchema`'s key order, compact output,
//! Jackson's string escapes and Java's number forms.

use sluice_sdk::data::{Schema, SchemaType, Value, logical};

use crate::read::decimal_scale;
use java_text::decimal::BigDecimal;
use java_text::{base64_encode, double_to_string, float_to_string};

/// How a Decimal is written (`decimal.format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalFormat {
    /// The unscaled value's two's-complement bytes, as Base64.
    Base64,
    /// A JSON number with the scale's digits.
    Numeric,
}

/// How values are written.
pub struct Writer {
    pub decimal_format: DecimalFormat,
    /// A null of a schema with a default is written as the default
    /// (`replace.null.with.default`).
    pub replace_null_with_default: bool,
}

impl Writer {
    /// `asJsonSchema`: `{"type":...}` in Kafka's key order; `field` is the
    /// name of the struct field the schema belongs to, written last.
    pub fn schema(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        field: Option<&str>,
    ) -> Result<(), String> {
        out.extend_from_slice(b"{\"type\":");
        string(out, type_name(schema.type_));
        match schema.type_ {
            SchemaType::Array => {
                out.extend_from_slice(b",\"items\":");
                self.optional_schema(out, schema.value.as_deref())?;
            }
            SchemaType::Map => {
                out.extend_from_slice(b",\"keys\":");
                self.optional_schema(out, schema.key.as_deref())?;
                out.extend_from_slice(b",\"values\":");
                self.optional_schema(out, schema.value.as_deref())?;
            }
            SchemaType::Struct => {
                out.extend_from_slice(b",\"fields\":[");
                for (i, (name, field_schema)) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.schema(out, field_schema, Some(name))?;
                }
                out.push(b']');
            }
            _ => {}
        }
        out.extend_from_slice(b",\"optional\":");
        out.extend_from_slice(if schema.optional { b"true" } else { b"false" });
        if let Some(name) = &schema.name {
            out.extend_from_slice(b",\"name\":");
            string(out, name);
        }
        if let Some(version) = schema.version {
            out.extend_from_slice(b",\"version\":");
            out.extend_from_slice(version.to_string().as_bytes());
        }
        if let Some(doc) = &schema.doc {
            out.extend_from_slice(b",\"doc\":");
            string(out, doc);
        }
        if !schema.parameters.is_empty() {
            out.extend_from_slice(b",\"parameters\":{");
            for (i, (key, value)) in schema.parameters.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, key);
                out.push(b':');
                string(out, value);
            }
            out.push(b'}');
        }
        if let Some(default) = schema.default.as_deref()
            && *default != Value::Null
        {
            out.extend_from_slice(b",\"default\":");
            self.value(out, Some(schema), default)?;
        }
        if let Some(field) = field {
            out.extend_from_slice(b",\"field\":");
            string(out, field);
        }
        out.push(b'}');
        Ok(())
    }

    fn optional_schema(&self, out: &mut Vec<u8>, schema: Option<&Schema>) -> Result<(), String> {
        match schema {
            Some(schema) => self.schema(out, schema, None),
            None => {
                out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    /// `convertToJson`: `value` with its schema, or schemaless.
    pub fn value(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<(), String> {
        let Some(schema) = schema else {
            return self.schemaless(out, value);
        };
        if *value == Value::Null {
            if let Some(default) = schema.default.as_deref()
                && *default != Value::Null
                && self.replace_null_with_default
            {
                return self.value(out, Some(schema), default);
            }
            if schema.optional {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            return Err(
                "Conversion error: null value for field that is required and has no default value"
                    .into(),
            );
        }
        let wrong_type = || {
            format!(
                "Invalid type for {}: {}",
                schema.type_.kafka_name(),
                value.type_name()
            )
        };
        match (schema.name.as_deref(), schema.type_) {
            (Some(logical::DECIMAL), SchemaType::Bytes) => {
                let Value::Bytes(bytes) = value else {
                    return Err(format!(
                        "Invalid type for Decimal, expected bytes of the unscaled value but was {}",
                        value.type_name()
                    ));
                };
                let scale = decimal_scale(schema)?;
                let decimal = BigDecimal::from_unscaled_bytes(bytes, scale)
                    .ok_or("Invalid bytes for Decimal field: no bytes")?;
                match self.decimal_format {
                    DecimalFormat::Base64 => {
                        string(out, &base64_encode(&decimal.to_unscaled_bytes()))
                    }
                    DecimalFormat::Numeric => {
                        out.extend_from_slice(decimal.to_java_string().as_bytes())
                    }
                }
                return Ok(());
            }
            (Some(logical::TIME), SchemaType::Int32) => {
                let Value::Int32(millis) = value else {
                    return Err(wrong_type());
                };
                if !(0..24 * 60 * 60 * 1000).contains(millis) {
                    return Err("Kafka Connect Time type should not have any date fields set to non-zero values.".into());
                }
            }
            _ => {}
        }
        match (schema.type_, value) {
            (SchemaType::Int8, Value::Int8(v)) => number(out, v),
            (SchemaType::Int16, Value::Int16(v)) => number(out, v),
            (SchemaType::Int32, Value::Int32(v)) => number(out, v),
            (SchemaType::Int64, Value::Int64(v)) => number(out, v),
            (SchemaType::Float32, Value::Float32(v)) => float(out, *v),
            (SchemaType::Float64, Value::Float64(v)) => double(out, *v),
            (SchemaType::Boolean, Value::Boolean(v)) => {
                out.extend_from_slice(if *v { b"true" } else { b"false" })
            }
            (SchemaType::String, Value::String(v)) => string(out, v),
            (SchemaType::Bytes, Value::Bytes(v)) => string(out, &base64_encode(v)),
            (SchemaType::Array, Value::Array(items)) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.value(out, schema.value.as_deref(), item)?;
                }
                out.push(b']');
            }
            (SchemaType::Map, Value::Map(entries)) => self.map(out, schema, entries)?,
            (SchemaType::Struct, Value::Struct(fields)) => {
                if let Some((name, _)) = fields.iter().find(|(n, _)| schema.field(n).is_none()) {
                    return Err(format!(
                        "Mismatching schema: the struct has a field \"{name}\" that its schema lacks"
                    ));
                }
                out.push(b'{');
                for (i, (name, field_schema)) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    string(out, name);
                    out.push(b':');
                    let field = fields
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(&Value::Null, |(_, v)| v);
                    self.value(out, Some(field_schema), field)?;
                }
                out.push(b'}');
            }
            _ => return Err(wrong_type()),
        }
        Ok(())
    }

    fn map(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        entries: &[(Value, Value)],
    ) -> Result<(), String> {
        let key_schema = schema.key.as_deref();
        let value_schema = schema.value.as_deref();
        if key_schema.is_some_and(|k| k.type_ == SchemaType::String) {
            out.push(b'{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Jackson's asText() of the key as written: a string's
                // text, or "null".
                match key {
                    Value::String(s) => string(out, s),
                    _ => {
                        let mut key_json = Vec::new();
                        self.value(&mut key_json, key_schema, key)?;
                        if key_json.first() == Some(&b'"') {
                            out.extend_from_slice(&key_json);
                        } else {
                            string(out, &String::from_utf8_lossy(&key_json));
                        }
                    }
                }
                out.push(b':');
                self.value(out, value_schema, value)?;
            }
            out.push(b'}');
        } else {
            out.push(b'[');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                self.value(out, key_schema, key)?;
                out.push(b',');
                self.value(out, value_schema, value)?;
                out.push(b']');
            }
            out.push(b']');
        }
        Ok(())
    }

    /// A value without a schema: its own type decides.
    fn schemaless(&self, out: &mut Vec<u8>, value: &Value) -> Result<(), String> {
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
            Value::Int8(v) => number(out, v),
            Value::Int16(v) => number(out, v),
            Value::Int32(v) => number(out, v),
            Value::Int64(v) => number(out, v),
            Value::Float32(v) => float(out, *v),
            Value::Float64(v) => double(out, *v),
            Value::String(v) => string(out, v),
            Value::Bytes(v) => string(out, &base64_encode(v)),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.schemaless(out, item)?;
                }
                out.push(b']');
            }
            Value::Map(entries) => {
                let object_mode = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
                out.push(if object_mode { b'{' } else { b'[' });
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    if let (true, Value::String(key)) = (object_mode, key) {
                        string(out, key);
                        out.push(b':');
                        self.schemaless(out, value)?;
                    } else {
                        out.push(b'[');
                        self.schemaless(out, key)?;
                        out.push(b',');
                        self.schemaless(out, value)?;
                        out.push(b']');
                    }
                }
                out.push(if object_mode { b'}' } else { b']' });
            }
            // Kafka has no struct without a schema; written as an object.
            Value::Struct(fields) => {
                out.push(b'{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    string(out, name);
                    out.push(b':');
                    self.schemaless(out, value)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

/// The JSON name of a schema type (`JsonSchema`'s `*_TYPE_NAME`).
fn type_name(type_: SchemaType) -> &'static str {
    match type_ {
        SchemaType::Boolean => "boolean",
        SchemaType::Int8 => "int8",
        SchemaType::Int16 => "int16",
        SchemaType::Int32 => "int32",
        SchemaType::Int64 => "int64",
        SchemaType::Float32 => "float",
        SchemaType::Float64 => "double",
        SchemaType::Bytes => "bytes",
        SchemaType::String => "string",
        SchemaType::Array => "array",
        SchemaType::Map => "map",
        SchemaType::Struct => "struct",
    }
}

fn number(out: &mut Vec<u8>, v: &impl ToString) {
    out.extend_from_slice(v.to_string().as_bytes());
}

/// A double as Jackson writes it: Java's `Double.toString`, and the
/// non-finite values as strings.
fn double(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(double_to_string(v).as_bytes());
    } else {
        string(out, &double_to_string(v));
    }
}

fn float(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        out.extend_from_slice(float_to_string(v).as_bytes());
    } else {
        string(out, &float_to_string(v));
    }
}

/// A JSON string with Jackson's escapes: `\"`, `\\`, the short escapes of
/// the control characters that have one, `\u00XX` (upper-case hex) for the
/// rest; everything else as UTF-8.
pub fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
