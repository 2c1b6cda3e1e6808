//! `cast`: Kafka's `Cast` transform (`Cast$Key`, `Cast$Value`). It casts
//! fields of a struct or map, or the entire key or value, to another
//! primitive type: `spec=id:int64,score:float32`, or `spec=string` for the
//! whole value. Integers, floats, booleans and strings cast to any of
//! those; bytes only to string (base64); a `Decimal` casts as its number.
//! The schema is rewritten to match, optionality and defaults kept.

use sluice_sdk::data::logical::{DATE, TIME, TIMESTAMP};
use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, list};
use transform_support::date_format::DateFormat;
use transform_support::decimal::{self, BigDecimal};
use transform_support::fields::{field_value, map_put};
use transform_support::java::{
    class_of, double_to_string, float_to_string, parse_double, parse_float,
};
use transform_support::part;
use transform_support::require::{require_map, require_struct};
use transform_support::schema::{copy_basics, is_named, primitive};
use transform_support::time::MILLIS_PER_DAY;

const SPEC: &str = "spec";
const PURPOSE: &str = "cast types";
const SUPPORTED_INPUT: &str =
    "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";
const SUPPORTED_OUTPUT: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";

/// A type a value can be cast to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl Target {
    fn schema_type(self) -> SchemaType {
        match self {
            Target::Int8 => SchemaType::Int8,
            Target::Int16 => SchemaType::Int16,
            Target::Int32 => SchemaType::Int32,
            Target::Int64 => SchemaType::Int64,
            Target::Float32 => SchemaType::Float32,
            Target::Float64 => SchemaType::Float64,
            Target::Boolean => SchemaType::Boolean,
            Target::String => SchemaType::String,
        }
    }

    /// The target named in a spec (any case), or the configuration error.
    fn parse(name: &str) -> Result<Target, ConfigProblem> {
        let target = match name.to_ascii_uppercase().as_str() {
            "INT8" => Target::Int8,
            "INT16" => Target::Int16,
            "INT32" => Target::Int32,
            "INT64" => Target::Int64,
            "FLOAT32" => Target::Float32,
            "FLOAT64" => Target::Float64,
            "BOOLEAN" => Target::Boolean,
            "STRING" => Target::String,
            other @ ("BYTES" | "ARRAY" | "MAP" | "STRUCT") => {
                return Err(ConfigProblem::new(
                    SPEC,
                    format!(
                        "Cast transformation does not support casting to {other}; \
                         supported types are {SUPPORTED_OUTPUT}"
                    ),
                ));
            }
            _ => {
                return Err(ConfigProblem::new(
                    SPEC,
                    format!("Invalid type found in casting spec: {name}"),
                ));
            }
        };
        Ok(target)
    }
}

/// What `spec` asks for: one cast of the whole value, or casts of fields.
#[derive(Clone, Debug, PartialEq)]
enum Spec {
    Whole(Target),
    Fields(Vec<(String, Target)>),
}

impl Spec {
    fn parse(config: &Config) -> Result<Spec, ConfigProblem> {
        let mappings = list(config, SPEC);
        if mappings.is_empty() {
            return Err(ConfigProblem::new(
                SPEC,
                "Must specify at least one field to cast.",
            ));
        }
        let mut whole = None;
        let mut fields: Vec<(String, Target)> = Vec::new();
        for mapping in &mappings {
            // Java's split drops trailing empty parts.
            let mut parts: Vec<&str> = mapping.split(':').collect();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            match parts.as_slice() {
                [target] => whole = Some(Target::parse(target.trim())?),
                [field, target] => {
                    let target = Target::parse(target.trim())?;
                    let field = field.trim().to_string();
                    // Later pairs for the same field win, as in Kafka's map.
                    fields.retain(|(f, _)| *f != field);
                    fields.push((field, target));
                }
                _ => {
                    return Err(ConfigProblem::invalid(
                        SPEC,
                        mapping,
                        format!("Invalid cast mapping: {mapping}"),
                    ));
                }
            }
        }
        match whole {
            Some(_) if mappings.len() > 1 => Err(ConfigProblem::new(
                SPEC,
                "Cast transformations that specify a type to cast the entire value to may ony \
                 specify a single cast in their spec",
            )),
            Some(target) => Ok(Spec::Whole(target)),
            None => Ok(Spec::Fields(fields)),
        }
    }

    fn target_of(&self, field: &str) -> Option<Target> {
        match self {
            Spec::Whole(_) => None,
            Spec::Fields(fields) => fields.iter().find(|(f, _)| f == field).map(|(_, t)| *t),
        }
    }
}

pub struct Cast {
    part: RecordPart,
    spec: Spec,
}

impl Transform for Cast {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "cast",
            env!("CARGO_PKG_VERSION"),
            "Cast fields or the entire key or value to a specific type, e.g. to force an integer \
             field to a smaller width",
        )
        .alias("org.apache.kafka.connect.transforms.Cast")
        .alias("Cast")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                SPEC,
                ConfigType::List,
                Importance::High,
                "List of fields and the type to cast them to of the form field1:type,field2:type \
                 to cast fields of Maps or Structs. A single type to cast the entire value. Valid \
                 types are int8, int16, int32, int64, float32, float64, boolean, and string. Note \
                 that binary fields can only be cast to string.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Spec::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("Cast", part)?;
        Ok(Cast {
            part,
            spec: Spec::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        if tree.value == Value::Null {
            return Ok(Some(record));
        }
        let (schema, value) = match tree.schema {
            None => (None, self.schemaless(tree.value)?),
            Some(schema) => {
                let (schema, value) = self.with_schema(&schema, &tree.value)?;
                (Some(schema), value)
            }
        };
        part::write(&mut record, self.part, schema, value);
        Ok(Some(record))
    }
}

impl Cast {
    fn schemaless(&self, value: Value) -> Result<Value, String> {
        let fields = match &self.spec {
            Spec::Whole(target) => return cast(None, &value, *target),
            Spec::Fields(fields) => fields,
        };
        let entries = require_map(&value, PURPOSE)?;
        let mut updated = entries.to_vec();
        for (field, target) in fields {
            let original =
                transform_support::fields::map_get(entries, field).unwrap_or(&Value::Null);
            map_put(&mut updated, field, cast(None, original, *target)?);
        }
        Ok(Value::Map(updated))
    }

    fn with_schema(&self, schema: &Schema, value: &Value) -> Result<(Schema, Value), String> {
        if let Spec::Whole(target) = self.spec {
            return Ok((
                self.cast_schema(schema)?,
                cast(Some(schema), value, target)?,
            ));
        }
        if schema.type_ != SchemaType::Struct {
            return Err("Cannot list fields on non-struct type".into());
        }
        let updated_schema = self.cast_schema(schema)?;
        let fields = require_struct(value, PURPOSE)?;
        Ok((
            updated_schema,
            Value::Struct(self.cast_fields(schema, fields)?),
        ))
    }

    fn cast_fields(
        &self,
        schema: &Schema,
        fields: &[(String, Value)],
    ) -> Result<Vec<(String, Value)>, String> {
        schema
            .fields
            .iter()
            .map(|(name, field_schema)| {
                let original = field_value(fields, name, field_schema, true);
                let value = match self.spec.target_of(name) {
                    Some(target) => cast(Some(field_schema), &original, target)?,
                    None => original,
                };
                Ok((name.clone(), value))
            })
            .collect()
    }

    /// The schema after the cast; Kafka's `getOrBuildSchema`.
    fn cast_schema(&self, schema: &Schema) -> Result<Schema, String> {
        let mut updated = match self.spec {
            Spec::Whole(target) => {
                let mut updated = copy_basics(schema, target.schema_type());
                // A logical type's name and parameters describe the old
                // representation, not the cast one.
                if is_logical(schema) {
                    updated.name = None;
                    updated.version = None;
                    updated.parameters.clear();
                }
                if let Some(default) = &schema.default {
                    updated.default = Some(Box::new(cast(Some(schema), default, target)?));
                }
                updated
            }
            Spec::Fields(_) => {
                let mut updated = copy_basics(schema, SchemaType::Struct);
                for (name, field_schema) in &schema.fields {
                    let field = match self.spec.target_of(name) {
                        Some(target) => {
                            let mut field = primitive(target.schema_type(), field_schema.optional);
                            if let Some(default) = &field_schema.default {
                                field.default =
                                    Some(Box::new(cast(Some(field_schema), default, target)?));
                            }
                            field
                        }
                        None => field_schema.clone(),
                    };
                    updated.fields.push((name.clone(), field));
                }
                if let Some(default) = &schema.default
                    && let Value::Struct(fields) = default.as_ref()
                {
                    updated.default =
                        Some(Box::new(Value::Struct(self.cast_fields(schema, fields)?)));
                }
                updated
            }
        };
        updated.optional = schema.optional;
        Ok(updated)
    }
}

fn is_logical(schema: &Schema) -> bool {
    [
        decimal::is_decimal(schema),
        is_named(schema, DATE),
        is_named(schema, TIME),
        is_named(schema, TIMESTAMP),
    ]
    .contains(&true)
}

/// A value as Kafka's `castValueToType` sees it.
enum Input<'a> {
    Integer(i64),
    Float32(f32),
    Float64(f64),
    Decimal(BigDecimal),
    Boolean(bool),
    String(&'a str),
    Bytes(&'a [u8]),
    /// A `Date`, `Time` or `Timestamp` cast to a string: a `java.util.Date`.
    Instant(i64),
}

/// Casts `value` (with its schema, if any) to `target`.
fn cast(schema: Option<&Schema>, value: &Value, target: Target) -> Result<Value, String> {
    if *value == Value::Null {
        return Ok(Value::Null);
    }
    let input_type = match schema {
        Some(schema) => schema.type_,
        None => match value {
            Value::Array(_) => SchemaType::Array,
            Value::Map(_) => SchemaType::Map,
            Value::Struct(_) => SchemaType::Struct,
            _ => SchemaType::String, // any primitive: supported
        },
    };
    if matches!(
        input_type,
        SchemaType::Array | SchemaType::Map | SchemaType::Struct
    ) {
        return Err(format!(
            "Cast transformation does not support casting from {}; supported types are {SUPPORTED_INPUT}",
            input_type.kafka_name()
        ));
    }
    let input = input(schema, value, target)?;
    let out_of_range = || {
        format!(
            "Value ({}) was out of range for requested data type",
            show(value)
        )
    };
    let unexpected = |input: &Input| {
        let class = match input {
            Input::Instant(_) => "class java.util.Date".to_string(),
            _ => class_of(value),
        };
        format!("Unexpected type in Cast transformation: {class}")
    };
    Ok(match target {
        Target::Int8 => Value::Int8(match input {
            Input::String(s) => s.parse().map_err(|_| out_of_range())?,
            ref other => integer(other).ok_or_else(|| unexpected(other))? as i8,
        }),
        Target::Int16 => Value::Int16(match input {
            Input::String(s) => s.parse().map_err(|_| out_of_range())?,
            ref other => integer(other).ok_or_else(|| unexpected(other))? as i16,
        }),
        Target::Int32 => Value::Int32(match input {
            Input::String(s) => s.parse().map_err(|_| out_of_range())?,
            ref other => integer(other).ok_or_else(|| unexpected(other))? as i32,
        }),
        Target::Int64 => Value::Int64(match input {
            Input::String(s) => s.parse().map_err(|_| out_of_range())?,
            // Java's (long) of a double saturates, as Rust's `as` does.
            Input::Float32(f) => f as i64,
            Input::Float64(f) => f as i64,
            ref other => integer(other).ok_or_else(|| unexpected(other))?,
        }),
        Target::Float32 => Value::Float32(match input {
            Input::Integer(i) => i as f32,
            Input::Float32(f) => f,
            Input::Float64(f) => f as f32,
            Input::Decimal(ref d) => d.to_f32(),
            Input::Boolean(b) => f32::from(u8::from(b)),
            Input::String(s) => parse_float(s).ok_or_else(out_of_range)?,
            ref other => return Err(unexpected(other)),
        }),
        Target::Float64 => Value::Float64(match input {
            Input::Integer(i) => i as f64,
            Input::Float32(f) => f64::from(f),
            Input::Float64(f) => f,
            Input::Decimal(ref d) => d.to_f64(),
            Input::Boolean(b) => f64::from(u8::from(b)),
            Input::String(s) => parse_double(s).ok_or_else(out_of_range)?,
            ref other => return Err(unexpected(other)),
        }),
        Target::Boolean => Value::Boolean(match input {
            Input::Boolean(b) => b,
            Input::String(s) => s.eq_ignore_ascii_case("true"),
            Input::Float32(f) => f as i64 != 0,
            Input::Float64(f) => f as i64 != 0,
            ref other => integer(other).ok_or_else(|| unexpected(other))? != 0,
        }),
        Target::String => Value::String(match input {
            Input::Integer(i) => i.to_string(),
            Input::Float32(f) => float_to_string(f),
            Input::Float64(f) => double_to_string(f),
            Input::Decimal(d) => d.to_java_string(),
            Input::Boolean(b) => b.to_string(),
            Input::String(s) => s.to_string(),
            Input::Bytes(bytes) => base64(bytes),
            Input::Instant(millis) => java_date_string(millis),
        }),
    })
}

/// What a value is for a cast: logical types become their number (or a
/// date when cast to a string), as Kafka's `encodeLogicalType`.
fn input<'a>(
    schema: Option<&Schema>,
    value: &'a Value,
    target: Target,
) -> Result<Input<'a>, String> {
    if let Some(schema) = schema {
        if decimal::is_decimal(schema)
            && let Value::Bytes(bytes) = value
        {
            let scale = decimal::scale_of(schema)?;
            // No bytes are no BigInteger in Java ("Zero length
            // BigInteger"); Cast reads them as zero, as it did before the
            // decimal moved to java-text.
            return Ok(Input::Decimal(
                BigDecimal::from_unscaled_bytes(bytes, scale)
                    .unwrap_or_else(|| BigDecimal::zero(scale)),
            ));
        }
        if target == Target::String {
            let instant = match value {
                Value::Int32(days) if is_named(schema, DATE) => {
                    Some(i64::from(*days) * MILLIS_PER_DAY)
                }
                Value::Int32(millis) if is_named(schema, TIME) => Some(i64::from(*millis)),
                Value::Int64(millis) if is_named(schema, TIMESTAMP) => Some(*millis),
                _ => None,
            };
            if let Some(millis) = instant {
                return Ok(Input::Instant(millis));
            }
        }
    }
    Ok(match value {
        Value::Int8(v) => Input::Integer(i64::from(*v)),
        Value::Int16(v) => Input::Integer(i64::from(*v)),
        Value::Int32(v) => Input::Integer(i64::from(*v)),
        Value::Int64(v) => Input::Integer(*v),
        Value::Float32(v) => Input::Float32(*v),
        Value::Float64(v) => Input::Float64(*v),
        Value::Boolean(v) => Input::Boolean(*v),
        Value::String(v) => Input::String(v),
        Value::Bytes(v) => Input::Bytes(v),
        other => {
            return Err(format!(
                "Cast transformation was passed a value of type {} which is not supported by \
                 Connect's data API",
                class_of(other)
            ));
        }
    })
}

/// The integer Java's `Number.longValue()` (narrowed by the caller as
/// `byteValue()` and friends narrow) gives, for inputs that have one.
fn integer(input: &Input) -> Option<i64> {
    match input {
        Input::Integer(i) => Some(*i),
        // Java narrows a float to int first for byte, short and int.
        Input::Float32(f) => Some(i64::from(*f as i32)),
        Input::Float64(f) => Some(i64::from(*f as i32)),
        Input::Decimal(d) => Some(d.to_i64_wrapping()),
        Input::Boolean(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// The value as Java's `toString()` shows it in a message.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Float32(f) => float_to_string(*f),
        Value::Float64(f) => double_to_string(*f),
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Boolean(v) => v.to_string(),
        other => format!("{other:?}"),
    }
}

/// A `java.util.Date` as Kafka's `Values.dateFormatFor` prints it: a time
/// within the first day, a date at midnight, a timestamp otherwise.
fn java_date_string(millis: i64) -> String {
    let pattern = if millis < MILLIS_PER_DAY {
        "HH:mm:ss.SSS'Z'"
    } else if millis % MILLIS_PER_DAY == 0 {
        "yyyy-MM-dd"
    } else {
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    };
    DateFormat::new(pattern)
        .map(|f| f.format(millis))
        .unwrap_or_default()
}

/// Standard base64 with padding, as `Base64.getEncoder()`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

sluice_sdk::export_transform!(Cast);
