//! `replace-field`: Kafka's `ReplaceField` transform (`ReplaceField$Key`,
//! `ReplaceField$Value`). It filters fields (`exclude` takes precedence
//! over `include`; Kafka 2.x's `blacklist` and `whitelist` are read when
//! the new names are not set) and renames them (`renames=old:new,...`), in
//! the struct and its schema or in the map. Null values pass through.

use std::collections::HashMap;

use sluice_sdk::prelude::*;
use transform_support::config::{
    ConfigProblem, REPLACE_NULL_WITH_DEFAULT, boolean, issues, java_list, list,
    replace_null_with_default_key,
};
use transform_support::fields::field_value;
use transform_support::part;
use transform_support::require::{require_map, require_struct};
use transform_support::schema::{copy_basics, duplicate_field};

const EXCLUDE: &str = "exclude";
const INCLUDE: &str = "include";
const RENAMES: &str = "renames";
const BLACKLIST: &str = "blacklist";
const WHITELIST: &str = "whitelist";
const PURPOSE: &str = "field replacement";

#[derive(Clone, Debug, PartialEq)]
struct Settings {
    exclude: Vec<String>,
    include: Vec<String>,
    renames: HashMap<String, String>,
    reverse_renames: HashMap<String, String>,
    replace_null_with_default: bool,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, ConfigProblem> {
        // Kafka's translateDeprecatedConfigs: the new name wins when both are set.
        let with_fallback = |key: &str, deprecated: &str| {
            if config.get(key).is_some() {
                list(config, key)
            } else {
                list(config, deprecated)
            }
        };
        let exclude = with_fallback(EXCLUDE, BLACKLIST);
        let include = with_fallback(INCLUDE, WHITELIST);
        let mappings = list(config, RENAMES);
        let mut renames = HashMap::new();
        for mapping in &mappings {
            match mapping.split(':').collect::<Vec<_>>().as_slice() {
                [from, to] if !to.is_empty() => {
                    renames.insert(from.to_string(), to.to_string());
                }
                _ => {
                    return Err(ConfigProblem::invalid(
                        RENAMES,
                        &java_list(&mappings),
                        format!("Invalid rename mapping: {mapping}"),
                    ));
                }
            }
        }
        let reverse_renames = renames
            .iter()
            .map(|(from, to)| (to.clone(), from.clone()))
            .collect();
        Ok(Settings {
            exclude,
            include,
            renames,
            reverse_renames,
            replace_null_with_default: boolean(config, REPLACE_NULL_WITH_DEFAULT, true)?,
        })
    }

    fn keep(&self, field: &str) -> bool {
        !self.exclude.iter().any(|f| f == field)
            && (self.include.is_empty() || self.include.iter().any(|f| f == field))
    }

    fn renamed<'a>(&'a self, field: &'a str) -> &'a str {
        self.renames.get(field).map(String::as_str).unwrap_or(field)
    }

    fn reverse_renamed<'a>(&'a self, field: &'a str) -> &'a str {
        self.reverse_renames
            .get(field)
            .map(String::as_str)
            .unwrap_or(field)
    }
}

pub struct ReplaceField {
    part: RecordPart,
    settings: Settings,
}

impl Transform for ReplaceField {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "replace-field",
            env!("CARGO_PKG_VERSION"),
            "Filter or rename fields.",
        )
        .alias("org.apache.kafka.connect.transforms.ReplaceField")
        .alias("ReplaceField")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                EXCLUDE,
                ConfigType::List,
                Importance::Medium,
                "Fields to exclude. This takes precedence over the fields to include.",
            )
            .default_value(""),
            ConfigKey::new(
                INCLUDE,
                ConfigType::List,
                Importance::Medium,
                "Fields to include. If specified, only these fields will be used.",
            )
            .default_value(""),
            ConfigKey::new(
                RENAMES,
                ConfigType::List,
                Importance::Medium,
                "Field rename mappings.",
            )
            .default_value(""),
            replace_null_with_default_key(),
            ConfigKey::new(
                BLACKLIST,
                ConfigType::List,
                Importance::Low,
                "Deprecated. Use exclude instead.",
            ),
            ConfigKey::new(
                WHITELIST,
                ConfigType::List,
                Importance::Low,
                "Deprecated. Use include instead.",
            ),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        issues(Settings::parse(config))
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        let part = part::variant("ReplaceField", part)?;
        Ok(ReplaceField {
            part,
            settings: Settings::parse(&config)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let tree = part::read(&record, self.part)?;
        if tree.value == Value::Null {
            return Ok(Some(record));
        }
        let s = &self.settings;
        match tree.schema {
            None => {
                let entries = require_map(&tree.value, PURPOSE)?;
                let mut updated: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let Value::String(name) = key else {
                        // Not a field name: nothing to filter or rename.
                        updated.push((key.clone(), value.clone()));
                        continue;
                    };
                    if s.keep(name) {
                        let renamed = Value::String(s.renamed(name).to_string());
                        // Two fields renamed alike: the later wins, as in a HashMap.
                        updated.retain(|(k, _)| *k != renamed);
                        updated.push((renamed, value.clone()));
                    }
                }
                part::write(&mut record, self.part, None, Value::Map(updated));
            }
            Some(schema) => {
                let fields = require_struct(&tree.value, PURPOSE)?;
                let mut updated_schema = copy_basics(&schema, SchemaType::Struct);
                for (name, field_schema) in &schema.fields {
                    if s.keep(name) {
                        let renamed = s.renamed(name);
                        if updated_schema.field(renamed).is_some() {
                            return Err(duplicate_field(renamed));
                        }
                        updated_schema
                            .fields
                            .push((renamed.to_string(), field_schema.clone()));
                    }
                }
                let values = updated_schema
                    .fields
                    .iter()
                    .map(|(name, field_schema)| {
                        let value = field_value(
                            fields,
                            s.reverse_renamed(name),
                            field_schema,
                            s.replace_null_with_default,
                        );
                        (name.clone(), value)
                    })
                    .collect();
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

sluice_sdk::export_transform!(ReplaceField);
