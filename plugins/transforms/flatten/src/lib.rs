//! `flatten`: Kafka's `Flatten` transform (`Flatten$Key`, `Flatten$Value`).
//! It flattens nested structs (with a schema) or nested maps (without) into
//! one level, naming each field by the path to it joined with `delimiter`
//! (default `.`): `{"a":{"b":1}}` becomes `{"a.b":1}`. A field under an
//! optional struct becomes optional, and defaults of parent structs carry
//! down. Arrays and primitives are kept as they are; maps inside a struct
//! are refused. Null values pass through.

use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, string};
use transform_support::fields::{field_value, map_put};
use transform_support::java::class_of;
use transform_support::part;
use transform_support::require::{require_map, require_struct};
use transform_support::schema::{copy_basics, copy_basics_same_type};

const DELIMITER: &str = "delimiter";
const DELIMITER_DEFAULT: &str = ".";
const PURPOSE: &str = "flattening";

pub struct Flatten {
    part: RecordPart,
    delimiter: String,
}

fn parse(config: &Config) -> Result<String, ConfigProblem> {
    // Kafka trims string settings, so a blank delimiter is the empty one.
    Ok(string(config, DELIMITER).unwrap_or_else(|| DELIMITER_DEFAULT.to_string()))
}

impl Transform for Flatten {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "flatten",
            env!("CARGO_PKG_VERSION"),
            "Flatten a nested data structure, generating names for each field by concatenating \
             the field names at each level with a configurable delimiter character. Applies to \
             Struct when schema present, or a Map in the case of schemaless data. Array fields \
             and their contents are not modified. The default delimiter is '.'.",
        )
        .alias("org.apache.kafka.connect.transforms.Flatten")
        .alias("Flatten")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                DELIMITER,
                ConfigType::String,
                Importance::Medium,
                "Delimiter to insert between field names from the input record when generating \
                 field names for the output record",
            )
            .default_value(DELIMITER_DEFAULT),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("Flatten", part)?;
        Ok(Flatten {
            part,
            delimiter: parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        if tree.value == Value::Null {
            return Ok(Some(record));
        }
        match tree.schema {
            None => {
                let entries = require_map(&tree.value, PURPOSE)?;
                let mut flat = Vec::new();
                self.flatten_map(entries, "", &mut flat)?;
                part::write(&mut record, self.part, None, Value::Map(flat));
            }
            Some(schema) => {
                let fields = require_struct(&tree.value, PURPOSE)?;
                let mut flat_schema = copy_basics(&schema, SchemaType::Struct);
                let parent_default = match schema.default.as_deref() {
                    Some(Value::Struct(defaults)) => Some(defaults.as_slice()),
                    _ => None,
                };
                self.flatten_schema(
                    &schema,
                    "",
                    &mut flat_schema,
                    schema.optional,
                    parent_default,
                )?;
                let mut flat = Vec::new();
                self.flatten_struct(&schema, Some(fields), "", &mut flat)?;
                part::write(
                    &mut record,
                    self.part,
                    Some(flat_schema),
                    Value::Struct(flat),
                );
            }
        }
        Ok(Some(record))
    }
}

impl Flatten {
    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        flat: &mut Vec<(Value, Value)>,
    ) -> Result<(), String> {
        for (key, value) in entries {
            let Value::String(key) = key else {
                return Err(format!(
                    "Flatten transformation does not support map keys of {} for record without \
                     schemas (under field {prefix})",
                    class_of(key)
                ));
            };
            let name = self.name(prefix, key);
            match value {
                Value::Map(inner) => self.flatten_map(inner, &name, flat)?,
                Value::Struct(_) => {
                    return Err(format!(
                        "Flatten transformation does not support {} for record without schemas \
                         (for field {name}).",
                        class_of(value)
                    ));
                }
                other => map_put(flat, &name, other.clone()),
            }
        }
        Ok(())
    }

    /// Kafka's `buildUpdatedSchema`: a field is optional when any struct
    /// above it is, and takes its default from the nearest default above.
    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        flat: &mut Schema,
        optional: bool,
        parent_default: Option<&[(String, Value)]>,
    ) -> Result<(), String> {
        for (field, field_schema) in &schema.fields {
            let name = self.name(prefix, field);
            let optional = optional || field_schema.optional;
            let default = match (&field_schema.default, parent_default) {
                (Some(default), _) => Some(default.as_ref().clone()),
                (None, Some(defaults)) => defaults
                    .iter()
                    .find(|(n, _)| n == field)
                    .map(|(_, v)| v.clone())
                    .filter(|v| *v != Value::Null),
                (None, None) => None,
            };
            match field_schema.type_ {
                SchemaType::Struct => {
                    let defaults = match &default {
                        Some(Value::Struct(defaults)) => Some(defaults.as_slice()),
                        _ => None,
                    };
                    self.flatten_schema(field_schema, &name, flat, optional, defaults)?;
                }
                SchemaType::Map => {
                    return Err(format!(
                        "Flatten transformation does not support {} for record with schemas (for \
                         field {name}).",
                        field_schema.type_.kafka_name()
                    ));
                }
                _ => {
                    if flat.field(&name).is_some() {
                        return Err(transform_support::schema::duplicate_field(&name));
                    }
                    let mut converted = copy_basics_same_type(field_schema);
                    converted.optional = optional;
                    converted.default = default.map(Box::new);
                    flat.fields.push((name, converted));
                }
            }
        }
        Ok(())
    }

    /// Kafka's `buildWithSchema`; a null nested struct leaves its fields
    /// null.
    fn flatten_struct(
        &self,
        schema: &Schema,
        fields: Option<&[(String, Value)]>,
        prefix: &str,
        flat: &mut Vec<(String, Value)>,
    ) -> Result<(), String> {
        for (field, field_schema) in &schema.fields {
            let name = self.name(prefix, field);
            let value = match fields {
                Some(fields) => field_value(fields, field, field_schema, true),
                None => Value::Null,
            };
            match (field_schema.type_, &value) {
                (SchemaType::Struct, Value::Struct(inner)) => {
                    self.flatten_struct(field_schema, Some(inner), &name, flat)?
                }
                (SchemaType::Struct, _) => self.flatten_struct(field_schema, None, &name, flat)?,
                (SchemaType::Map, _) => {
                    return Err(format!(
                        "Flatten transformation does not support MAP for record with schemas \
                         (for field {name})."
                    ));
                }
                _ => flat.push((name, value)),
            }
        }
        Ok(())
    }
}

sluice_sdk::export_transform!(Flatten);
