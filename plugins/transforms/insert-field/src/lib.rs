//! `insert-field`: Kafka's `InsertField` transform (`InsertField$Key`,
//! `InsertField$Value`). It adds fields from the record's metadata (topic,
//! partition, offset, timestamp) or a static string to a struct (the schema
//! gains the fields) or a map. A field name ending in `!` makes the field
//! required in the schema, `?` (the default) optional. Null values (such as
//! tombstones) pass through unchanged.

use sluice_sdk::prelude::*;
use transform_support::config::{ConfigProblem, issues, string};
use transform_support::fields::{field_value, map_put};
use transform_support::part;
use transform_support::require::{require_map, require_struct};
use transform_support::schema::{copy_basics, duplicate_field, primitive, timestamp_schema};

const TOPIC_FIELD: &str = "topic.field";
const PARTITION_FIELD: &str = "partition.field";
const OFFSET_FIELD: &str = "offset.field";
const TIMESTAMP_FIELD: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const PURPOSE: &str = "field insertion";
const OPTIONALITY_DOC: &str = "Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it optional (the default).";

/// A field to insert: its name and whether its schema is optional.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

impl InsertionSpec {
    fn parse(config: &Config, key: &str) -> Option<InsertionSpec> {
        let spec = string(config, key)?;
        Some(if let Some(name) = spec.strip_suffix('?') {
            InsertionSpec {
                name: name.to_string(),
                optional: true,
            }
        } else if let Some(name) = spec.strip_suffix('!') {
            InsertionSpec {
                name: name.to_string(),
                optional: false,
            }
        } else {
            InsertionSpec {
                name: spec,
                optional: true,
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Settings {
    topic: Option<InsertionSpec>,
    partition: Option<InsertionSpec>,
    offset: Option<InsertionSpec>,
    timestamp: Option<InsertionSpec>,
    /// The static field and its value.
    constant: Option<(InsertionSpec, String)>,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, ConfigProblem> {
        let topic = InsertionSpec::parse(config, TOPIC_FIELD);
        let partition = InsertionSpec::parse(config, PARTITION_FIELD);
        let offset = InsertionSpec::parse(config, OFFSET_FIELD);
        let timestamp = InsertionSpec::parse(config, TIMESTAMP_FIELD);
        let static_field = InsertionSpec::parse(config, STATIC_FIELD);
        if topic.is_none()
            && partition.is_none()
            && offset.is_none()
            && timestamp.is_none()
            && static_field.is_none()
        {
            return Err(ConfigProblem::new(
                TOPIC_FIELD,
                "No field insertion configured",
            ));
        }
        let constant = match static_field {
            None => None,
            Some(field) => match string(config, STATIC_VALUE) {
                Some(value) => Some((field, value)),
                None => {
                    return Err(ConfigProblem::invalid(
                        STATIC_VALUE,
                        "null",
                        format!("No value specified for static field: {}", field.name),
                    ));
                }
            },
        };
        Ok(Settings {
            topic,
            partition,
            offset,
            timestamp,
            constant,
        })
    }
}

pub struct InsertField {
    part: RecordPart,
    settings: Settings,
}

impl Transform for InsertField {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "insert-field",
            env!("CARGO_PKG_VERSION"),
            "Insert field(s) using attributes from the record metadata or a configured static \
             value.",
        )
        .alias("org.apache.kafka.connect.transforms.InsertField")
        .alias("InsertField")
    }

    fn config_keys() -> Vec<ConfigKey> {
        let field = |name: &str, doc: &str| {
            ConfigKey::new(
                name,
                ConfigType::String,
                Importance::Medium,
                &format!("{doc} {OPTIONALITY_DOC}"),
            )
        };
        vec![
            field(TOPIC_FIELD, "Field name for Kafka topic."),
            field(PARTITION_FIELD, "Field name for Kafka partition."),
            field(
                OFFSET_FIELD,
                "Field name for Kafka offset - only applicable to sink connectors.<br/>",
            ),
            field(TIMESTAMP_FIELD, "Field name for record timestamp."),
            field(STATIC_FIELD, "Field name for static data field."),
            ConfigKey::new(
                STATIC_VALUE,
                ConfigType::String,
                Importance::Medium,
                "Static field value, if field name configured.",
            ),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Settings::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("InsertField", part)?;
        Ok(InsertField {
            part,
            settings: Settings::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        if tree.value == Value::Null {
            return Ok(Some(record));
        }
        let inserts = self.inserts(&record)?;
        match tree.schema {
            None => {
                let mut entries = require_map(&tree.value, PURPOSE)?.to_vec();
                for insert in inserts {
                    // Kafka leaves out a partition or timestamp the record lacks.
                    if insert.value != Value::Null {
                        map_put(&mut entries, &insert.spec.name, insert.value);
                    }
                }
                part::write(&mut record, self.part, None, Value::Map(entries));
            }
            Some(schema) => {
                let fields = require_struct(&tree.value, PURPOSE)?;
                let mut updated_schema = copy_basics(&schema, SchemaType::Struct);
                updated_schema.fields = schema.fields.clone();
                let mut values: Vec<(String, Value)> = schema
                    .fields
                    .iter()
                    .map(|(name, field_schema)| {
                        (name.clone(), field_value(fields, name, field_schema, true))
                    })
                    .collect();
                for insert in inserts {
                    let name = &insert.spec.name;
                    if updated_schema.field(name).is_some() {
                        return Err(duplicate_field(name));
                    }
                    let field_schema = match insert.kind {
                        Kind::Timestamp => timestamp_schema(insert.spec.optional),
                        Kind::Plain(type_) => primitive(type_, insert.spec.optional),
                    };
                    if insert.value == Value::Null && !field_schema.optional {
                        return Err(format!(
                            "Invalid value: null used for required field: \"{name}\", schema type: {}",
                            field_schema.type_.kafka_name()
                        ));
                    }
                    updated_schema.fields.push((name.clone(), field_schema));
                    values.push((name.clone(), insert.value));
                }
                part::write(
                    &mut record,
                    self.part,
                    Some(updated_schema),
                    Value::Struct(values),
                );
            }
        }
        Ok(Some(record))
    }
}

/// The schema of an inserted field.
enum Kind {
    Plain(SchemaType),
    Timestamp,
}

struct Insert<'a> {
    spec: &'a InsertionSpec,
    kind: Kind,
    value: Value,
}

impl InsertField {
    /// The fields to insert, in Kafka's order, with their values for this
    /// record (null where the record has none).
    fn inserts(&self, record: &ConnectRecord) -> Result<Vec<Insert<'_>>, String> {
        let s = &self.settings;
        let mut inserts = Vec::new();
        if let Some(spec) = &s.topic {
            inserts.push(Insert {
                spec,
                kind: Kind::Plain(SchemaType::String),
                value: Value::String(record.topic.clone()),
            });
        }
        if let Some(spec) = &s.partition {
            inserts.push(Insert {
                spec,
                kind: Kind::Plain(SchemaType::Int32),
                value: record.partition.map(Value::Int32).unwrap_or(Value::Null),
            });
        }
        if let Some(spec) = &s.offset {
            // Only a record a sink consumed has an offset.
            let offset = record.offset.ok_or_else(|| {
                format!(
                    "Only SinkRecord supported for [{PURPOSE}], found: \
                     org.apache.kafka.connect.source.SourceRecord"
                )
            })?;
            inserts.push(Insert {
                spec,
                kind: Kind::Plain(SchemaType::Int64),
                value: Value::Int64(offset),
            });
        }
        if let Some(spec) = &s.timestamp {
            inserts.push(Insert {
                spec,
                kind: Kind::Timestamp,
                value: record.timestamp.map(Value::Int64).unwrap_or(Value::Null),
            });
        }
        if let Some((spec, value)) = &s.constant {
            inserts.push(Insert {
                spec,
                kind: Kind::Plain(SchemaType::String),
                value: Value::String(value.clone()),
            });
        }
        Ok(inserts)
    }
}

sluice_sdk::export_transform!(InsertField);
