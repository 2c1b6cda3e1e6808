//! `hoist-field`: Kafka's `HoistField` transform (`HoistField$Key`,
//! `HoistField$Value`). It wraps the key or value in a struct with one
//! field (`field`) when there is a schema, or in a map when there is none:
//! the line `"foo"` hoisted with `field=line` becomes `{"line":"foo"}`.

use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, required_string};
use transform_support::part;

const FIELD: &str = "field";

pub struct HoistField {
    part: RecordPart,
    field: String,
}

fn parse(config: &Config) -> Result<String, ConfigProblem> {
    required_string(config, FIELD)
}

impl Transform for HoistField {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "hoist-field",
            env!("CARGO_PKG_VERSION"),
            "Wrap data using the specified field name in a Struct when schema present, or a Map \
             in the case of schemaless data.",
        )
        .alias("org.apache.kafka.connect.transforms.HoistField")
        .alias("HoistField")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FIELD,
                ConfigType::String,
                Importance::Medium,
                "Field name for the single field that will be created in the resulting Struct or \
                 Map.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("HoistField", part)?;
        Ok(HoistField {
            part,
            field: parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        match tree.schema {
            None => {
                let map = Value::Map(vec![(Value::String(self.field.clone()), tree.value)]);
                part::write(&mut record, self.part, None, map);
            }
            Some(schema) => {
                if tree.value == Value::Null && !schema.optional {
                    return Err(format!(
                        "Invalid value: null used for required field: \"{}\", schema type: {}",
                        self.field,
                        schema.type_.kafka_name()
                    ));
                }
                let wrapper = Schema::structure(vec![(self.field.clone(), schema)]);
                let value = Value::Struct(vec![(self.field.clone(), tree.value)]);
                part::write(&mut record, self.part, Some(wrapper), value);
            }
        }
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(HoistField);
