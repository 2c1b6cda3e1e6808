//! `extract-field`: Kafka's `ExtractField` transform (`ExtractField$Key`,
//! `ExtractField$Value`). It replaces the key or value with one of its
//! fields: from a struct when there is a schema (the field's schema becomes
//! the new schema), from a map when there is none. With
//! `field.syntax.version=V2` the field may be a dotted path into nested
//! structs or maps. Null values pass through unchanged.

use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, required_string};
use transform_support::part;
use transform_support::path::{FieldPath, FieldSyntaxVersion};
use transform_support::require::{require_map_or_null, require_struct_or_null};

const FIELD: &str = "field";
const PURPOSE: &str = "field extraction";

pub struct ExtractField {
    part: RecordPart,
    /// The path as configured, for the unknown-field message.
    original: String,
    path: FieldPath,
}

fn parse(config: &Config) -> Result<(String, FieldPath), ConfigProblem> {
    let original = required_string(config, FIELD)?;
    let version = FieldSyntaxVersion::from_config(config)?;
    let path = FieldPath::parse(&original, version).map_err(|e| ConfigProblem::new(FIELD, e))?;
    Ok((original, path))
}

impl Transform for ExtractField {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "extract-field",
            env!("CARGO_PKG_VERSION"),
            "Extract the specified field from a Struct when schema present, or a Map in the case \
             of schemaless data. Any null values are passed through unmodified.",
        )
        .alias("org.apache.kafka.connect.transforms.ExtractField")
        .alias("ExtractField")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FIELD,
                ConfigType::String,
                Importance::Medium,
                "Field name to extract.",
            )
            .required(),
            FieldSyntaxVersion::config_key(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("ExtractField", part)?;
        let (original, path) = parse(&config)?;
        Ok(ExtractField {
            part,
            original,
            path,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        match tree.schema {
            None => {
                let value = match require_map_or_null(&tree.value, PURPOSE)? {
                    None => Value::Null,
                    Some(_) => self.path.value_from_map(&tree.value)?,
                };
                part::write(&mut record, self.part, None, value);
            }
            Some(schema) => {
                let fields = require_struct_or_null(&tree.value, PURPOSE)?;
                let field_schema = self
                    .path
                    .field_from(&schema)
                    .ok_or_else(|| format!("Unknown field: {}", self.original))?
                    .clone();
                let value = match fields {
                    None => Value::Null,
                    Some(_) => self.path.value_from_struct(&schema, &tree.value)?,
                };
                part::write(&mut record, self.part, Some(field_schema), value);
            }
        }
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(ExtractField);
