//! `mask-field`: Kafka's `MaskField` transform (`MaskField$Key`,
//! `MaskField$Value`). It replaces the listed fields with the null value of
//! their type (0, false, an empty string, array or map, the epoch for
//! dates) or, with `replacement`, with that text converted to the field's
//! type (numbers and strings only). The schema is unchanged.

use sluice_sdk::data::logical::{DATE, TIME, TIMESTAMP};
use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, non_empty_list, string};
use transform_support::decimal::{self, BigDecimal};
use transform_support::fields::{field_value, map_get, map_put};
use transform_support::java::{class_name, class_of, parse_double};
use transform_support::part;
use transform_support::require::{require_map, require_struct};
use transform_support::schema::is_named;

const FIELDS: &str = "fields";
const REPLACEMENT: &str = "replacement";
const PURPOSE: &str = "mask fields";

#[derive(Clone, Debug, PartialEq)]
struct Settings {
    fields: Vec<String>,
    replacement: Option<String>,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, ConfigProblem> {
        let fields = non_empty_list(config, FIELDS)?;
        let replacement = match string(config, REPLACEMENT) {
            Some(r) if r.is_empty() => {
                return Err(ConfigProblem::invalid(
                    REPLACEMENT,
                    "",
                    "String must be non-empty",
                ));
            }
            other => other,
        };
        Ok(Settings {
            fields,
            replacement,
        })
    }
}

pub struct MaskField {
    part: RecordPart,
    settings: Settings,
}

impl Transform for MaskField {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "mask-field",
            env!("CARGO_PKG_VERSION"),
            "Mask specified fields with a valid null value for the field type (i.e. 0, false, \
             empty string, and so on). For numeric and string fields, an optional replacement \
             value can be specified that is converted to the correct type.",
        )
        .alias("org.apache.kafka.connect.transforms.MaskField")
        .alias("MaskField")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FIELDS,
                ConfigType::List,
                Importance::High,
                "Names of fields to mask.",
            )
            .required(),
            ConfigKey::new(
                REPLACEMENT,
                ConfigType::String,
                Importance::Low,
                "Custom value replacement, that will be applied to all 'fields' values (numeric \
                 or non-empty string values only).",
            ),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Settings::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("MaskField", part)?;
        Ok(MaskField {
            part,
            settings: Settings::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        match tree.schema {
            None => {
                let entries = require_map(&tree.value, PURPOSE)?;
                let mut updated = entries.to_vec();
                // As Kafka's map put, a masked field the value lacks is added as null.
                for field in &self.settings.fields {
                    let original = map_get(entries, field).unwrap_or(&Value::Null);
                    map_put(&mut updated, field, self.masked(None, original)?);
                }
                part::write(&mut record, self.part, None, Value::Map(updated));
            }
            Some(schema) => {
                let fields = require_struct(&tree.value, PURPOSE)?;
                let masked = schema
                    .fields
                    .iter()
                    .map(|(name, field_schema)| {
                        let original = field_value(fields, name, field_schema, true);
                        let value = if self.settings.fields.contains(name) {
                            self.masked(Some(field_schema), &original)?
                        } else {
                            original
                        };
                        Ok((name.clone(), value))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                part::write(&mut record, self.part, Some(schema), Value::Struct(masked));
            }
        }
        Ok(Some(record))
    }
}

impl MaskField {
    fn masked(&self, schema: Option<&Schema>, value: &Value) -> Result<Value, String> {
        if *value == Value::Null {
            return Ok(Value::Null);
        }
        match &self.settings.replacement {
            None => null_value(schema, value),
            Some(replacement) => replaced(schema, value, replacement),
        }
    }
}

/// The "null value" of the value's type.
fn null_value(schema: Option<&Schema>, value: &Value) -> Result<Value, String> {
    if let Some(schema) = schema
        && decimal::is_decimal(schema)
    {
        let scale = decimal::scale_of(schema)?;
        let zero = BigDecimal::parse("0").and_then(|z| z.with_scale(scale));
        return Ok(Value::Bytes(
            zero.map(|z| z.to_unscaled_bytes()).unwrap_or_default(),
        ));
    }
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        // A Date, Time or Timestamp masks to the epoch, which is 0 too.
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::String(_) => Value::String(String::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => return Err(format!("Cannot mask value of type: {}", class_of(other))),
    })
}

/// The replacement text converted to the value's type, as Kafka's
/// `REPLACEMENT_MAPPING_FUNC` (Kafka's `Values` conversions for numbers).
fn replaced(schema: Option<&Schema>, value: &Value, replacement: &str) -> Result<Value, String> {
    let not_a_number =
        || format!("Unable to convert {replacement} (class java.lang.String) to number");
    let cannot =
        |class: &str| format!("Cannot mask value of type class {class} with custom replacement.");
    if let Some(schema) = schema {
        if decimal::is_decimal(schema) {
            let scale = decimal::scale_of(schema)?;
            let number = BigDecimal::parse(replacement).ok_or_else(not_a_number)?;
            let scaled = number.with_scale(scale).ok_or_else(|| {
                format!(
                    "BigDecimal has mismatching scale value for given Decimal schema: {replacement}"
                )
            })?;
            return Ok(Value::Bytes(scaled.to_unscaled_bytes()));
        }
        if is_named(schema, DATE) || is_named(schema, TIME) || is_named(schema, TIMESTAMP) {
            return Err(cannot("java.util.Date"));
        }
    }
    let integer = || -> Result<i64, String> {
        replacement
            .parse::<i64>()
            .ok()
            .or_else(|| parse_double(replacement).map(|d| d as i64))
            .ok_or_else(not_a_number)
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(integer()? as i8),
        Value::Int16(_) => Value::Int16(integer()? as i16),
        Value::Int32(_) => Value::Int32(integer()? as i32),
        Value::Int64(_) => Value::Int64(integer()?),
        Value::Float32(_) => {
            Value::Float32(parse_double(replacement).ok_or_else(not_a_number)? as f32)
        }
        Value::Float64(_) => Value::Float64(parse_double(replacement).ok_or_else(not_a_number)?),
        Value::String(_) => Value::String(replacement.to_string()),
        other => return Err(cannot(class_name(other))),
    })
}

sluice_sdk::export_transform!(MaskField);
