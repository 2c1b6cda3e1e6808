//! JSON to Connect data, as Kafka's `JsonConverter.toConnectData`: the
//! envelope's schema read as `asConnectSchema` reads it, the payload checked
//! against it and converted as `convertToConnect` converts it.
//!
//! Where Kafka's Jackson accessors coerce a value of the wrong JSON type
//! silently (`intValue()` of a string is 0), this refuses it with a message
//! in the style of Kafka's own ("Structs should be encoded as JSON objects,
//! but found ARRAY").

use sluice_sdk::data::{Schema, SchemaType, Value, logical};

use crate::json::Json;
use java_text::base64_decode;
use java_text::decimal::BigDecimal;

/// How the payload is read.
pub struct Reader {
    /// A null (or missing) value of a schema with a default reads as the
    /// default (`replace.null.with.default`).
    pub replace_null_with_default: bool,
}

impl Reader {
    /// `asConnectSchema`: the schema of an envelope; `None` for JSON null.
    pub fn schema(&self, json: &Json) -> Result<Option<Schema>, String> {
        if *json == Json::Null {
            return Ok(None);
        }
        let Some(Json::String(type_name)) = json.get("type") else {
            return Err("Schema must contain 'type' field".into());
        };
        let mut schema = match type_name.as_str() {
            "boolean" => Schema::of(SchemaType::Boolean),
            "int8" => Schema::of(SchemaType::Int8),
            "int16" => Schema::of(SchemaType::Int16),
            "int32" => Schema::of(SchemaType::Int32),
            "int64" => Schema::of(SchemaType::Int64),
            "float" => Schema::of(SchemaType::Float32),
            "double" => Schema::of(SchemaType::Float64),
            "bytes" => Schema::of(SchemaType::Bytes),
            "string" => Schema::of(SchemaType::String),
            "array" => {
                let items = match json.get("items") {
                    None | Some(Json::Null) => {
                        return Err("Array schema did not specify the element type".into());
                    }
                    Some(items) => self.schema(items)?,
                };
                let items = items.ok_or("valueSchema cannot be null.")?;
                Schema::array(items)
            }
            "map" => {
                let keys = json
                    .get("keys")
                    .ok_or("Map schema did not specify the key type")?;
                let values = json
                    .get("values")
                    .ok_or("Map schema did not specify the value type")?;
                let keys = self.schema(keys)?.ok_or("keySchema cannot be null.")?;
                let values = self.schema(values)?.ok_or("valueSchema cannot be null.")?;
                Schema::map(keys, values)
            }
            "struct" => {
                let Some(Json::Array(fields)) = json.get("fields") else {
                    return Err("Struct schema's \"fields\" argument is not an array.".into());
                };
                let mut out: Vec<(String, Schema)> = Vec::with_capacity(fields.len());
                for field in fields {
                    let Some(Json::String(name)) = field.get("field") else {
                        return Err("Struct schema's field name not specified properly".into());
                    };
                    let field_schema = self
                        .schema(field)?
                        .ok_or("Struct schema's field name not specified properly")?;
                    if out.iter().any(|(n, _)| n == name) {
                        return Err(format!(
                            "Cannot create field because of field name duplication {name}"
                        ));
                    }
                    out.push((name.clone(), field_schema));
                }
                Schema::structure(out)
            }
            other => return Err(format!("Unknown schema type: {other}")),
        };
        schema.optional = json.get("optional") == Some(&Json::Bool(true));
        if let Some(Json::String(name)) = json.get("name") {
            schema.name = Some(name.clone());
        }
        if let Some(version @ Json::Number(text)) = json.get("version")
            && version.is_integral()
        {
            // Jackson's intValue(): the low 32 bits.
            schema.version = text.parse::<i64>().ok().map(|v| v as i32);
        }
        if let Some(Json::String(doc)) = json.get("doc") {
            schema.doc = Some(doc.clone());
        }
        if let Some(Json::Object(parameters)) = json.get("parameters") {
            for (key, value) in parameters {
                let Json::String(value) = value else {
                    return Err("Schema parameters must have string values.".into());
                };
                schema.parameters.push((key.clone(), value.clone()));
            }
        }
        if let Some(default) = json.get("default") {
            let value = self.value(Some(&schema), Some(default))?;
            if value != Value::Null {
                schema.default = Some(Box::new(value));
            }
        }
        Ok(Some(schema))
    }

    /// `convertToConnect`: the payload `json` (`None` when missing) read
    /// with `schema`, or schemaless.
    pub fn value(&self, schema: Option<&Schema>, json: Option<&Json>) -> Result<Value, String> {
        let Some(schema) = schema else {
            return schemaless(json);
        };
        let json = match json {
            None | Some(Json::Null) => {
                if let Some(default) = schema.default.as_deref()
                    && self.replace_null_with_default
                {
                    return Ok(default.clone());
                }
                if schema.optional {
                    return Ok(Value::Null);
                }
                return Err(format!(
                    "Invalid null value for required {} field",
                    schema.type_.kafka_name()
                ));
            }
            Some(json) => json,
        };
        match (schema.name.as_deref(), schema.type_) {
            (Some(logical::DECIMAL), SchemaType::Bytes) => return decimal(schema, json),
            (Some(logical::DATE), SchemaType::Int32) => {
                return json.as_int().map(Value::Int32).ok_or_else(|| {
                    format!(
                        "Invalid type for Date, underlying representation should be integer but was {}",
                        json.node_type()
                    )
                });
            }
            (Some(logical::TIME), SchemaType::Int32) => {
                let millis = json.as_int().ok_or_else(|| {
                    format!(
                        "Invalid type for Time, underlying representation should be integer but was {}",
                        json.node_type()
                    )
                })?;
                if !(0..=MILLIS_PER_DAY).contains(&millis) {
                    return Err("Kafka Connect Time type should not have any date fields set to non-zero values.".into());
                }
                return Ok(Value::Int32(millis));
            }
            (Some(logical::TIMESTAMP), SchemaType::Int64) => {
                if !json.is_integral() {
                    return Err(format!(
                        "Invalid type for Timestamp, underlying representation should be integral but was {}",
                        json.node_type()
                    ));
                }
                return integer(json, SchemaType::Int64);
            }
            _ => {}
        }
        match schema.type_ {
            SchemaType::Boolean => match json {
                Json::Bool(b) => Ok(Value::Boolean(*b)),
                other => Err(mismatch(schema.type_, "booleans", other)),
            },
            SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
                integer(json, schema.type_)
            }
            SchemaType::Float32 => match json {
                Json::Number(text) => Ok(Value::Float32(text.parse().unwrap_or(f32::NAN))),
                Json::String(text) => non_finite(text)
                    .map(|v| Value::Float32(v as f32))
                    .ok_or_else(|| mismatch(schema.type_, "numbers", json)),
                other => Err(mismatch(schema.type_, "numbers", other)),
            },
            SchemaType::Float64 => match json {
                Json::Number(text) => Ok(Value::Float64(text.parse().unwrap_or(f64::NAN))),
                Json::String(text) => non_finite(text)
                    .map(Value::Float64)
                    .ok_or_else(|| mismatch(schema.type_, "numbers", json)),
                other => Err(mismatch(schema.type_, "numbers", other)),
            },
            SchemaType::String => match json {
                Json::String(s) => Ok(Value::String(s.clone())),
                other => Err(mismatch(schema.type_, "strings", other)),
            },
            SchemaType::Bytes => match json {
                Json::String(s) => base64_decode(s)
                    .map(Value::Bytes)
                    .ok_or_else(|| "Invalid bytes field".to_string()),
                _ => Err("Invalid bytes field".into()),
            },
            SchemaType::Array => {
                let Json::Array(items) = json else {
                    return Err(mismatch(schema.type_, "arrays", json));
                };
                let item_schema = schema.value.as_deref();
                items
                    .iter()
                    .map(|item| self.value(item_schema, Some(item)))
                    .collect::<Result<_, _>>()
                    .map(Value::Array)
            }
            SchemaType::Map => self.map(schema, json),
            SchemaType::Struct => {
                let Json::Object(_) = json else {
                    return Err(format!(
                        "Structs should be encoded as JSON objects, but found {}",
                        json.node_type()
                    ));
                };
                schema
                    .fields
                    .iter()
                    .map(|(name, field)| {
                        Ok((name.clone(), self.value(Some(field), json.get(name))?))
                    })
                    .collect::<Result<_, String>>()
                    .map(Value::Struct)
            }
        }
    }

    fn map(&self, schema: &Schema, json: &Json) -> Result<Value, String> {
        let key_schema = schema.key.as_deref();
        let value_schema = schema.value.as_deref();
        if key_schema.is_none_or(|k| k.type_ == SchemaType::String) {
            let Json::Object(members) = json else {
                return Err(format!(
                    "Maps with string fields should be encoded as JSON objects, but found {}",
                    json.node_type()
                ));
            };
            return members
                .iter()
                .map(|(k, v)| Ok((Value::String(k.clone()), self.value(value_schema, Some(v))?)))
                .collect::<Result<_, String>>()
                .map(Value::Map);
        }
        let Json::Array(entries) = json else {
            return Err(format!(
                "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                json.node_type()
            ));
        };
        entries
            .iter()
            .map(|entry| {
                let Json::Array(pair) = entry else {
                    return Err(format!(
                        "Found invalid map entry instead of array tuple: {}",
                        entry.node_type()
                    ));
                };
                if pair.len() != 2 {
                    return Err(format!(
                        "Found invalid map entry, expected length 2 but found :{}",
                        pair.len()
                    ));
                }
                Ok((
                    self.value(key_schema, Some(&pair[0]))?,
                    self.value(value_schema, Some(&pair[1]))?,
                ))
            })
            .collect::<Result<_, String>>()
            .map(Value::Map)
    }
}

const MILLIS_PER_DAY: i32 = 24 * 60 * 60 * 1000;

/// A payload without a schema: integers as INT64, other numbers as FLOAT64,
/// objects as maps with string keys.
fn schemaless(json: Option<&Json>) -> Result<Value, String> {
    Ok(match json {
        None | Some(Json::Null) => Value::Null,
        Some(Json::Bool(b)) => Value::Boolean(*b),
        Some(number @ Json::Number(text)) => {
            if number.is_integral() {
                return integer(number, SchemaType::Int64);
            }
            Value::Float64(text.parse().unwrap_or(f64::NAN))
        }
        Some(Json::String(s)) => Value::String(s.clone()),
        Some(Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|item| schemaless(Some(item)))
                .collect::<Result<_, _>>()?,
        ),
        Some(Json::Object(members)) => Value::Map(
            members
                .iter()
                .map(|(k, v)| Ok((Value::String(k.clone()), schemaless(Some(v))?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn mismatch(type_: SchemaType, expected: &str, found: &Json) -> String {
    format!(
        "{} values should be encoded as JSON {expected}, but found {}",
        type_.kafka_name(),
        found.node_type()
    )
}

/// The special values Jackson writes as strings for a float or double.
fn non_finite(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// An integer of `type_`, refusing fractions and values out of its range.
fn integer(json: &Json, type_: SchemaType) -> Result<Value, String> {
    let Json::Number(text) = json else {
        return Err(mismatch(type_, "integers", json));
    };
    let value = BigDecimal::parse(text)
        .filter(BigDecimal::is_integer)
        .ok_or_else(|| {
            format!(
                "{} values should be encoded as JSON integers, but found {text}",
                type_.kafka_name()
            )
        })?;
    let out_of_range = || {
        format!(
            "Numeric value ({text}) out of range of {}",
            type_.kafka_name()
        )
    };
    let v = value.to_i64_exact().ok_or_else(out_of_range)?;
    Ok(match type_ {
        SchemaType::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
        SchemaType::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
        SchemaType::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
        _ => Value::Int64(v),
    })
}

/// A Decimal from a number (`decimal.format=NUMERIC`) or Base64 bytes: the
/// unscaled value's bytes at the schema's scale.
fn decimal(schema: &Schema, json: &Json) -> Result<Value, String> {
    match json {
        Json::Number(text) => {
            let scale = decimal_scale(schema)?;
            let decimal = BigDecimal::parse(text)
                .and_then(|d| d.with_scale(scale))
                .ok_or_else(|| {
                    format!("BigDecimal has mismatching scale value for given Decimal schema: {text} has more than {scale} fraction digits")
                })?;
            Ok(Value::Bytes(decimal.to_unscaled_bytes()))
        }
        Json::String(text) => {
            decimal_scale(schema)?;
            match base64_decode(text) {
                // Java's `BigInteger(byte[])` refuses only no bytes.
                Some(mut bytes) if !bytes.is_empty() => {
                    // Kafka holds a BigDecimal, whose bytes are always the
                    // shortest form: leading sign bytes that a writer
                    // added (`AHM=` for 0x73) go, so that equal decimals
                    // read as equal values, as the NUMERIC form reads them.
                    let redundant = bytes
                        .windows(2)
                        .take_while(|pair| match pair[0] {
                            0x00 => pair[1] & 0x80 == 0,
                            0xff => pair[1] & 0x80 != 0,
                            _ => false,
                        })
                        .count();
                    bytes.drain(..redundant);
                    Ok(Value::Bytes(bytes))
                }
                _ => Err("Invalid bytes for Decimal field".into()),
            }
        }
        other => Err(format!(
            "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
            other.node_type()
        )),
    }
}

/// The `scale` parameter of a Decimal schema.
pub fn decimal_scale(schema: &Schema) -> Result<i32, String> {
    let raw = schema
        .parameter(logical::DECIMAL_SCALE)
        .ok_or("Invalid Decimal schema: scale parameter not found.")?;
    raw.trim().parse().map_err(|_| {
        format!("Invalid Decimal schema: scale parameter \"{raw}\" is not an integer.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_read_in_their_shortest_form() {
        let mut schema = Schema::of(SchemaType::Bytes);
        schema.name = Some(logical::DECIMAL.into());
        schema.parameters = vec![(logical::DECIMAL_SCALE.into(), "2".into())];
        let read = |base64: &str| decimal(&schema, &Json::String(base64.into()));
        // 0x00 0x73 is 1.15 as 0x73 is; 0xff 0xff is -0.01 as 0xff is.
        assert_eq!(read("AHM="), Ok(Value::Bytes(vec![0x73])));
        assert_eq!(read("//8="), Ok(Value::Bytes(vec![0xff])));
        assert_eq!(read("AAA="), Ok(Value::Bytes(vec![0x00])));
        // A sign byte that is needed stays: 1.28 and -1.29.
        assert_eq!(read("AIA="), Ok(Value::Bytes(vec![0x00, 0x80])));
        assert_eq!(read("/38="), Ok(Value::Bytes(vec![0xff, 0x7f])));
    }
}
