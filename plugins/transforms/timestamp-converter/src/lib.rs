//! `timestamp-converter`: Kafka's `TimestampConverter` transform
//! (`TimestampConverter$Key`, `TimestampConverter$Value`). It converts a
//! timestamp field (`field`), or the whole key or value, between Unix time
//! (`unix`, an int64 in `unix.precision`), a formatted string (`string`,
//! with a `SimpleDateFormat` pattern in `format`, in UTC) and Connect's
//! `Date`, `Time` and `Timestamp` logical types, rewriting the schema.
//! Without a schema the input type is inferred: int64 is Unix time, a
//! string is parsed with `format`.

use sluice_sdk::data::logical::{DATE, TIME, TIMESTAMP};
use sluice_sdk::prelude::*;
use transform_support::config::{
    ConfigProblem, REPLACE_NULL_WITH_DEFAULT, boolean, issues, one_of,
    replace_null_with_default_key, string,
};
use transform_support::date_format::DateFormat;
use transform_support::fields::{field_value, map_get, map_put};
use transform_support::java::class_of;
use transform_support::part;
use transform_support::require::{require_map, require_struct_or_null};
use transform_support::schema::{
    copy_basics, date_schema, describe, is_named, primitive, time_schema, timestamp_schema,
};
use transform_support::time::MILLIS_PER_DAY;

const FIELD: &str = "field";
const TARGET_TYPE: &str = "target.type";
const FORMAT: &str = "format";
const UNIX_PRECISION: &str = "unix.precision";
const PURPOSE: &str = "converting timestamp formats";

const TYPES: [&str; 5] = ["string", "unix", "Date", "Time", "Timestamp"];
const PRECISIONS: [&str; 4] = ["nanoseconds", "microseconds", "milliseconds", "seconds"];

/// A representation of a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn from_name(name: &str) -> Kind {
        match name {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            _ => Kind::Timestamp,
        }
    }

    /// Kafka's `timestampTypeFromSchema`.
    fn from_schema(schema: &Schema) -> Result<Kind, String> {
        if is_named(schema, TIMESTAMP) {
            Ok(Kind::Timestamp)
        } else if is_named(schema, DATE) {
            Ok(Kind::Date)
        } else if is_named(schema, TIME) {
            Ok(Kind::Time)
        } else if schema.type_ == SchemaType::String {
            Ok(Kind::String)
        } else if schema.type_ == SchemaType::Int64 {
            Ok(Kind::Unix)
        } else {
            Err(format!(
                "Schema {} does not correspond to a known timestamp type format",
                describe(schema)
            ))
        }
    }

    /// The schema of a value of this kind.
    fn schema(self, optional: bool) -> Schema {
        match self {
            Kind::String => primitive(SchemaType::String, optional),
            Kind::Unix => primitive(SchemaType::Int64, optional),
            Kind::Date => date_schema(optional),
            Kind::Time => time_schema(optional),
            Kind::Timestamp => timestamp_schema(optional),
        }
    }
}

/// What `unix` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

#[derive(Clone, Debug, PartialEq)]
struct Settings {
    field: String,
    target: Kind,
    format: Option<DateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, ConfigProblem> {
        let field = string(config, FIELD).unwrap_or_default();
        let target = Kind::from_name(&one_of(config, TARGET_TYPE, None, &TYPES)?);
        let pattern = string(config, FORMAT).unwrap_or_default();
        if target == Kind::String && pattern.is_empty() {
            return Err(ConfigProblem::new(
                FORMAT,
                "TimestampConverter requires format option to be specified when using string \
                 timestamps",
            ));
        }
        let format = if pattern.is_empty() {
            None
        } else {
            Some(DateFormat::new(&pattern).map_err(|e| {
                ConfigProblem::new(
                    FORMAT,
                    format!(
                        "TimestampConverter requires a SimpleDateFormat-compatible pattern for \
                         string timestamps: {pattern} ({e})"
                    ),
                )
            })?)
        };
        let precision =
            match one_of(config, UNIX_PRECISION, Some("milliseconds"), &PRECISIONS)?.as_str() {
                "seconds" => Precision::Seconds,
                "microseconds" => Precision::Microseconds,
                "nanoseconds" => Precision::Nanoseconds,
                _ => Precision::Milliseconds,
            };
        Ok(Settings {
            field,
            target,
            format,
            precision,
            replace_null_with_default: boolean(config, REPLACE_NULL_WITH_DEFAULT, true)?,
        })
    }
}

pub struct TimestampConverter {
    part: RecordPart,
    settings: Settings,
}

impl Transform for TimestampConverter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "timestamp-converter",
            env!("CARGO_PKG_VERSION"),
            "Convert timestamps between different formats such as Unix epoch, strings, and \
             Connect Date/Timestamp types. Applies to individual fields or to the entire value.",
        )
        .alias("org.apache.kafka.connect.transforms.TimestampConverter")
        .alias("TimestampConverter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FIELD,
                ConfigType::String,
                Importance::High,
                "The field containing the timestamp, or empty if the entire value is a timestamp",
            )
            .default_value(""),
            ConfigKey::new(
                TARGET_TYPE,
                ConfigType::String,
                Importance::High,
                "The desired timestamp representation: string, unix, Date, Time, or Timestamp",
            )
            .required(),
            ConfigKey::new(
                FORMAT,
                ConfigType::String,
                Importance::Medium,
                "A SimpleDateFormat-compatible format for the timestamp. Used to generate the \
                 output when type=string or used to parse the input if the input is a string.",
            )
            .default_value(""),
            ConfigKey::new(
                UNIX_PRECISION,
                ConfigType::String,
                Importance::Low,
                "The desired Unix precision for the timestamp: seconds, milliseconds, \
                 microseconds, or nanoseconds. Used to generate the output when type=unix or \
                 used to parse the input if the input is a Long. Note: This SMT will cause \
                 precision loss during conversions from, and to, values with sub-millisecond \
                 components.",
            )
            .default_value("milliseconds"),
            replace_null_with_default_key(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Settings::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("TimestampConverter", part)?;
        Ok(TimestampConverter {
            part,
            settings: Settings::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        let (schema, value) = match &tree.schema {
            None => (None, self.schemaless(&tree.value)?),
            Some(schema) => {
                let (schema, value) = self.with_schema(schema, &tree.value)?;
                (Some(schema), value)
            }
        };
        part::write(&mut record, self.part, schema, value);
        Ok(Some(record))
    }
}

impl TimestampConverter {
    fn schemaless(&self, value: &Value) -> Result<Value, String> {
        if *value == Value::Null || self.settings.field.is_empty() {
            return self.convert(value, None);
        }
        let entries = require_map(value, PURPOSE)?;
        let original = map_get(entries, &self.settings.field).unwrap_or(&Value::Null);
        let converted = self.convert(original, None)?;
        let mut updated = entries.to_vec();
        map_put(&mut updated, &self.settings.field, converted);
        Ok(Value::Map(updated))
    }

    fn with_schema(&self, schema: &Schema, value: &Value) -> Result<(Schema, Value), String> {
        let s = &self.settings;
        if s.field.is_empty() {
            let source = Kind::from_schema(schema)?;
            return Ok((
                s.target.schema(schema.optional),
                self.convert(value, Some(source))?,
            ));
        }
        let fields = require_struct_or_null(value, PURPOSE)?;
        let mut updated = copy_basics(schema, SchemaType::Struct);
        for (name, field_schema) in &schema.fields {
            let converted = if *name == s.field {
                s.target.schema(field_schema.optional)
            } else {
                field_schema.clone()
            };
            updated.fields.push((name.clone(), converted));
        }
        updated.optional = schema.optional;
        if let Some(Value::Struct(defaults)) = schema.default.as_deref() {
            updated.default = Some(Box::new(self.convert_struct(schema, defaults)?));
        }
        let value = match fields {
            None => Value::Null,
            Some(fields) => self.convert_struct(schema, fields)?,
        };
        Ok((updated, value))
    }

    fn convert_struct(&self, schema: &Schema, fields: &[(String, Value)]) -> Result<Value, String> {
        let s = &self.settings;
        let converted = schema
            .fields
            .iter()
            .map(|(name, field_schema)| {
                let value = field_value(fields, name, field_schema, s.replace_null_with_default);
                let value = if *name == s.field {
                    self.convert(&value, Some(Kind::from_schema(field_schema)?))?
                } else {
                    value
                };
                Ok((name.clone(), value))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Value::Struct(converted))
    }

    /// Kafka's `convertTimestamp`: `source` is `None` to infer it from the
    /// value.
    fn convert(&self, value: &Value, source: Option<Kind>) -> Result<Value, String> {
        if *value == Value::Null {
            return Ok(Value::Null);
        }
        let source = match source {
            Some(kind) => kind,
            None => match value {
                Value::Int64(_) => Kind::Unix,
                Value::String(_) => Kind::String,
                other => {
                    return Err(format!(
                        "TimestampConverter does not support {} objects as timestamps",
                        class_of(other)
                    ));
                }
            },
        };
        let millis = self.to_millis(source, value)?;
        self.millis_to_target(millis)
    }

    fn format(&self) -> Result<&DateFormat, String> {
        self.settings.format.as_ref().ok_or_else(|| {
            "TimestampConverter requires format option to be specified when using string \
             timestamps"
                .to_string()
        })
    }

    fn to_millis(&self, source: Kind, value: &Value) -> Result<i64, String> {
        let expected = |what: &str| format!("Expected {what}, but found {}", class_of(value));
        match (source, value) {
            (Kind::String, Value::String(text)) => {
                let format = self.format()?;
                format.parse(text).ok_or_else(|| {
                    format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({})",
                        format.pattern()
                    )
                })
            }
            (Kind::String, _) => Err(expected("string timestamp to be a String")),
            (Kind::Unix, Value::Int64(unix)) => Ok(match self.settings.precision {
                Precision::Seconds => unix.saturating_mul(1000),
                Precision::Milliseconds => *unix,
                Precision::Microseconds => unix / 1000,
                Precision::Nanoseconds => unix / 1_000_000,
            }),
            (Kind::Unix, _) => Err(expected("Unix timestamp to be a Long")),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            (Kind::Date, _) => Err(expected("Date to be a java.util.Date")),
            (Kind::Time, Value::Int32(millis)) => Ok(i64::from(*millis)),
            (Kind::Time, _) => Err(expected("Time to be a java.util.Date")),
            (Kind::Timestamp, Value::Int64(millis)) => Ok(*millis),
            (Kind::Timestamp, _) => Err(expected("Timestamp to be a java.util.Date")),
        }
    }

    fn millis_to_target(&self, millis: i64) -> Result<Value, String> {
        Ok(match self.settings.target {
            Kind::String => Value::String(self.format()?.format(millis)),
            Kind::Unix => Value::Int64(match self.settings.precision {
                Precision::Seconds => millis / 1000,
                Precision::Milliseconds => millis,
                Precision::Microseconds => millis.saturating_mul(1000),
                Precision::Nanoseconds => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => Value::Int32(
                i32::try_from(millis.div_euclid(MILLIS_PER_DAY))
                    .map_err(|_| format!("Timestamp {millis} is out of range for a Date"))?,
            ),
            Kind::Time => Value::Int32(millis.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Int64(millis),
        })
    }
}

sluice_sdk::export_transform!(TimestampConverter);
