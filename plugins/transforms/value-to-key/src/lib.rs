//! `value-to-key`: Kafka's `ValueToKey` transform. It replaces the record
//! key with a new key made of the listed fields of the value: a struct
//! with those fields' schemas when the value has a schema, a map when it
//! has none.

use sluice_sdk::prelude::*;
use transform_support::config::{
    ConfigProblem, REPLACE_NULL_WITH_DEFAULT, boolean, issues, non_empty_list,
    replace_null_with_default_key,
};
use transform_support::fields::{field_value, map_get};
use transform_support::part;
use transform_support::require::{require_map, require_struct};

const FIELDS: &str = "fields";
const PURPOSE: &str = "copying fields from value to key";

#[derive(Clone, Debug, PartialEq)]
struct Settings {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, ConfigProblem> {
        Ok(Settings {
            fields: non_empty_list(config, FIELDS)?,
            replace_null_with_default: boolean(config, REPLACE_NULL_WITH_DEFAULT, true)?,
        })
    }
}

pub struct ValueToKey {
    settings: Settings,
}

impl Transform for ValueToKey {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "value-to-key",
            env!("CARGO_PKG_VERSION"),
            "Replace the record key with a new key formed from a subset of fields in the record \
             value.",
        )
        .alias("org.apache.kafka.connect.transforms.ValueToKey")
        .alias("ValueToKey")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FIELDS,
                ConfigType::List,
                Importance::High,
                "Field names on the record value to extract as the record key.",
            )
            .required(),
            replace_null_with_default_key(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Settings::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        part::no_variant("ValueToKey", part)?;
        Ok(ValueToKey {
            settings: Settings::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, RecordPart::Value)?;
        let fields = &self.settings.fields;
        match tree.schema {
            None => {
                let entries = require_map(&tree.value, PURPOSE)?;
                let key = fields
                    .iter()
                    .map(|f| {
                        let value = map_get(entries, f).cloned().unwrap_or(Value::Null);
                        (Value::String(f.clone()), value)
                    })
                    .collect();
                part::write(&mut record, RecordPart::Key, None, Value::Map(key));
            }
            Some(schema) => {
                let values = require_struct(&tree.value, PURPOSE)?;
                let mut key_schema = Schema::structure(Vec::new());
                let mut key = Vec::with_capacity(fields.len());
                for field in fields {
                    let field_schema = schema
                        .field(field)
                        .ok_or_else(|| format!("Field does not exist: {field}"))?;
                    key_schema
                        .fields
                        .push((field.clone(), field_schema.clone()));
                    let value = field_value(
                        values,
                        field,
                        field_schema,
                        self.settings.replace_null_with_default,
                    );
                    key.push((field.clone(), value));
                }
                part::write(
                    &mut record,
                    RecordPart::Key,
                    Some(key_schema),
                    Value::Struct(key),
                );
            }
        }
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(ValueToKey);
