//! `set-schema-metadata`: Kafka's `SetSchemaMetadata$Key` and
//! `SetSchemaMetadata$Value`. It sets the name, the version or both of the
//! key's or the value's schema, leaving the data as it is, except that a
//! struct's null fields take their defaults unless
//! `replace.null.with.default` is false (Kafka rebuilds the struct with
//! `Struct.get`, which reads a null field as its default).

use sluice_sdk::data::{Schema, StructuredValue, Value};
use sluice_sdk::prelude::*;
use transform_support::config::{REPLACE_NULL_WITH_DEFAULT, replace_null_with_default_key};

const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";

pub struct SetSchemaMetadata {
    part: RecordPart,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
}

/// What the configuration asks for, or the key and Kafka's message for what
/// is wrong with it.
fn settings(config: &Config) -> Result<(Option<String>, Option<i32>, bool), ConfigIssue> {
    let issue = |key: &str, message: String| ConfigIssue {
        key: key.into(),
        message,
    };
    let name = config.get(SCHEMA_NAME).map(str::to_string);
    let version = match config.get(SCHEMA_VERSION) {
        None => None,
        Some(raw) => Some(raw.trim().parse::<i32>().map_err(|_| {
            issue(
                SCHEMA_VERSION,
                format!(
                    "Invalid value {raw} for configuration {SCHEMA_VERSION}: \
                     Not a number of type INT"
                ),
            )
        })?),
    };
    let replace = match config.get(REPLACE_NULL_WITH_DEFAULT).map(str::trim) {
        None => true,
        Some(raw) if raw.eq_ignore_ascii_case("true") => true,
        Some(raw) if raw.eq_ignore_ascii_case("false") => false,
        Some(raw) => {
            return Err(issue(
                REPLACE_NULL_WITH_DEFAULT,
                format!(
                    "Invalid value {raw} for configuration {REPLACE_NULL_WITH_DEFAULT}: \
                     Expected value to be either true or false"
                ),
            ));
        }
    };
    if name.is_none() && version.is_none() {
        return Err(issue(
            SCHEMA_NAME,
            "Neither schema name nor version configured".into(),
        ));
    }
    Ok((name, version, replace))
}

impl Transform for SetSchemaMetadata {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "set-schema-metadata",
            env!("CARGO_PKG_VERSION"),
            "Set the schema name, version or both on the record's key \
             (SetSchemaMetadata$Key) or value (SetSchemaMetadata$Value) schema",
        )
        .alias("org.apache.kafka.connect.transforms.SetSchemaMetadata")
        .alias("SetSchemaMetadata")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                SCHEMA_NAME,
                ConfigType::String,
                Importance::High,
                "Schema name to set.",
            ),
            ConfigKey::new(
                SCHEMA_VERSION,
                ConfigType::Int,
                Importance::High,
                "Schema version to set.",
            ),
            replace_null_with_default_key(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        settings(config).err().into_iter().collect()
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let Some(part) = part else {
            return Err(ConnectError::fatal(
                "SetSchemaMetadata needs a variant: use SetSchemaMetadata$Key or \
                 SetSchemaMetadata$Value",
            ));
        };
        let (name, version, replace_null_with_default) =
            settings(&config).map_err(|issue| ConnectError::fatal(issue.message))?;
        Ok(SetSchemaMetadata {
            part,
            name,
            version,
            replace_null_with_default,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let slot = record.part_mut(self.part);
        let Some(data) = slot.as_ref() else {
            // A null without a schema: nothing to name.
            return Ok(Some(record));
        };
        let StructuredValue { schema, value } = data.to_tree()?;
        let Some(mut schema) = schema else {
            if value == Value::Null {
                return Ok(Some(record));
            }
            return Err("Schema required for [updating schema metadata]".into());
        };
        if let Some(name) = &self.name {
            schema.name = Some(name.clone());
        }
        if let Some(version) = self.version {
            schema.version = Some(version);
        }
        let value = if self.replace_null_with_default {
            with_defaults(&schema, value)
        } else {
            value
        };
        *slot = Some(Data::structured(Some(schema), value));
        Ok(Some(record))
    }
}

/// A struct whose null fields read as their schema's defaults, as Kafka's
/// `Struct.get` reads them; one level deep, as there.
fn with_defaults(schema: &Schema, value: Value) -> Value {
    match value {
        Value::Struct(fields) => Value::Struct(
            fields
                .into_iter()
                .map(|(name, field)| {
                    let default = schema.field(&name).and_then(|s| s.default.as_deref());
                    match (field, default) {
                        (Value::Null, Some(default)) => (name, default.clone()),
                        (field, _) => (name, field),
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

sluice_sdk::export_transform!(SetSchemaMetadata);
