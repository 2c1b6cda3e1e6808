//! `header-from`: Kafka's `HeaderFrom` transform (`HeaderFrom$Key`,
//! `HeaderFrom$Value`). It copies (`operation=copy`) or moves
//! (`operation=move`, removing them from the key or value and its schema)
//! the listed fields into headers: the n-th of `fields` goes to the n-th of
//! `headers`, with the field's schema when there is one.

use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, non_empty_list, one_of};
use transform_support::fields::{field_value, map_get, map_remove};
use transform_support::part;
use transform_support::require::{require_map, require_struct};
use transform_support::schema::copy_basics;

const FIELDS: &str = "fields";
const HEADERS: &str = "headers";
const OPERATION: &str = "operation";
const MOVE: &str = "move";
const COPY: &str = "copy";

#[derive(Clone, Debug, PartialEq)]
struct Settings {
    fields: Vec<String>,
    headers: Vec<String>,
    /// `move` or `copy`.
    operation: String,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, ConfigProblem> {
        let fields = non_empty_list(config, FIELDS)?;
        let headers = non_empty_list(config, HEADERS)?;
        if fields.len() != headers.len() {
            return Err(ConfigProblem::new(
                HEADERS,
                format!(
                    "'{FIELDS}' config must have the same number of elements as '{HEADERS}' \
                     config."
                ),
            ));
        }
        let operation = one_of(config, OPERATION, None, &[MOVE, COPY])?;
        Ok(Settings {
            fields,
            headers,
            operation,
        })
    }

    fn moves(&self) -> bool {
        self.operation == MOVE
    }
}

pub struct HeaderFrom {
    part: RecordPart,
    settings: Settings,
}

impl Transform for HeaderFrom {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "header-from",
            env!("CARGO_PKG_VERSION"),
            "Moves or copies fields in the key/value of a record into that record's headers. \
             Corresponding elements of fields and headers together identify a field and the \
             header it should be moved or copied to.",
        )
        .alias("org.apache.kafka.connect.transforms.HeaderFrom")
        .alias("HeaderFrom")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                FIELDS,
                ConfigType::List,
                Importance::High,
                "Field names in the record whose values are to be copied or moved to headers.",
            )
            .required(),
            ConfigKey::new(
                HEADERS,
                ConfigType::List,
                Importance::High,
                "Header names, in the same order as the field names listed in the fields \
                 configuration property.",
            )
            .required(),
            ConfigKey::new(
                OPERATION,
                ConfigType::String,
                Importance::High,
                "Either <code>move</code> if the fields are to be moved to the headers (removed \
                 from the key/value), or <code>copy</code> if the fields are to be copied to the \
                 headers (retained in the key/value).",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Settings::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("HeaderFrom", part)?;
        Ok(HeaderFrom {
            part,
            settings: Settings::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        let s = &self.settings;
        let purpose = format!("header {}", s.operation);
        match tree.schema {
            None => {
                let entries = require_map(&tree.value, &purpose)?;
                let mut updated = entries.to_vec();
                for (field, header) in s.fields.iter().zip(&s.headers) {
                    let value = map_get(entries, field).cloned().unwrap_or(Value::Null);
                    if s.moves() {
                        map_remove(&mut updated, field);
                    }
                    record.headers.push(Header {
                        key: header.clone(),
                        value: part::to_data(None, value),
                    });
                }
                part::write(&mut record, self.part, None, Value::Map(updated));
            }
            Some(schema) => {
                let values = require_struct(&tree.value, &purpose)?;
                for (field, header) in s.fields.iter().zip(&s.headers) {
                    let field_schema = schema
                        .field(field)
                        .ok_or_else(|| format!("Field does not exist: {field}"))?;
                    let value = field_value(values, field, field_schema, true);
                    record.headers.push(Header {
                        key: header.clone(),
                        value: (value != Value::Null)
                            .then(|| Data::structured(Some(field_schema.clone()), value)),
                    });
                }
                if s.moves() {
                    let mut moved = copy_basics(&schema, SchemaType::Struct);
                    moved.fields = schema
                        .fields
                        .iter()
                        .filter(|(name, _)| !s.fields.contains(name))
                        .cloned()
                        .collect();
                    let kept = moved
                        .fields
                        .iter()
                        .map(|(name, field_schema)| {
                            (name.clone(), field_value(values, name, field_schema, true))
                        })
                        .collect();
                    part::write(&mut record, self.part, Some(moved), Value::Struct(kept));
                }
            }
        }
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(HeaderFrom);
