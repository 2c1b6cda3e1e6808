//! A connector's configuration: the framework keys the host owns (as in
//! Kafka Connect), the grants, and the plugin's own keys, checked against
//! the plugin's description of them.

use std::collections::BTreeMap;

use super::{ConfigError, ConfigErrors, list, suggest};
use crate::capability::files::{self, FileRootGrant, FileRoots};
use crate::plugin::PluginKind;
use crate::runtime::bindings::types::{ConfigKey, ConfigType};

/// How keys and values become bytes on the wire. Converter plugins come in a
/// later version; until then both choices pass raw bytes through unchanged
/// (and write a structured string or bytes value as its bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConverterChoice {
    ByteArray,
    String,
}

impl ConverterChoice {
    pub fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim() {
            "org.apache.kafka.connect.converters.ByteArrayConverter" | "bytearray" => {
                Ok(ConverterChoice::ByteArray)
            }
            "org.apache.kafka.connect.storage.StringConverter" | "string" => {
                Ok(ConverterChoice::String)
            }
            other => Err(ConfigError::invalid(
                key,
                other,
                "this version has only the pass-through converters \
                 org.apache.kafka.connect.storage.StringConverter and \
                 org.apache.kafka.connect.converters.ByteArrayConverter",
            )),
        }
    }
}

/// Framework keys every connector may set.
const FRAMEWORK_KEYS: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "key.converter",
    "value.converter",
    "header.converter",
    files::GRANT_KEY,
];
/// Framework keys only sink connectors may set.
const SINK_KEYS: &[&str] = &["topics"];
const FRAMEWORK_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.override.",
    "consumer.override.",
];

/// A connector configuration that passed every check.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    pub tasks_max: u32,
    /// The topics a sink consumes.
    pub topics: Vec<String>,
    pub file_grants: Vec<FileRootGrant>,
    pub key_converter: Option<ConverterChoice>,
    pub value_converter: Option<ConverterChoice>,
    /// `producer.override.*` and `consumer.override.*`, prefix removed.
    pub producer_overrides: BTreeMap<String, String>,
    pub consumer_overrides: BTreeMap<String, String>,
    /// The whole configuration, as handed to the plugin (Kafka Connect hands
    /// connectors their framework keys too).
    pub raw: BTreeMap<String, String>,
}

/// The keys needed to find the plugin, before the plugin's own keys can be
/// checked: `name` and `connector.class`.
pub fn identity(raw: &BTreeMap<String, String>) -> Result<(String, String), ConfigErrors> {
    let get = |key: &str| match raw.get(key).map(|v| v.trim()) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(ConfigError::Missing(key.to_string())),
    };
    match (get("name"), get("connector.class")) {
        (Ok(name), Ok(class)) => Ok((name, class)),
        (a, b) => Err(ConfigErrors(
            [a.err(), b.err()].into_iter().flatten().collect(),
        )),
    }
}

impl ConnectorConfig {
    /// Checks `raw` against the framework keys and the plugin's keys: every
    /// key must be known, required keys present, values of the right type,
    /// grants defined by the worker.
    pub fn check(
        raw: &BTreeMap<String, String>,
        kind: PluginKind,
        plugin_keys: &[ConfigKey],
        roots: &FileRoots,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = match identity(raw) {
            Ok(_) => Vec::new(),
            Err(e) => e.0,
        };
        let is_sink = kind == PluginKind::Sink;
        let mut known: Vec<&str> = FRAMEWORK_KEYS.to_vec();
        if is_sink {
            known.extend(SINK_KEYS);
        }
        known.extend(plugin_keys.iter().map(|k| k.name.as_str()));
        for key in raw.keys() {
            if !known.contains(&key.as_str())
                && !FRAMEWORK_PREFIXES.iter().any(|p| key.starts_with(p))
            {
                errors.push(ConfigError::UnknownKey {
                    key: key.clone(),
                    hint: suggest(key, &known),
                });
            }
        }
        for spec in plugin_keys {
            match raw.get(&spec.name) {
                None if spec.required && spec.default_value.is_none() => {
                    errors.push(ConfigError::Missing(spec.name.clone()))
                }
                None => {}
                Some(value) => {
                    if let Err(reason) = check_type(spec.type_, value) {
                        errors.push(ConfigError::invalid(&spec.name, value, reason));
                    } else if spec.required && value.trim().is_empty() {
                        errors.push(ConfigError::Missing(spec.name.clone()));
                    }
                }
            }
        }
        let tasks_max = match raw.get("tasks.max") {
            None => 1,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    errors.push(ConfigError::invalid(
                        "tasks.max",
                        v,
                        "expected a whole number of at least 1",
                    ));
                    1
                }
            },
        };
        let topics: Vec<String> = raw.get("topics").map(|v| list(v)).unwrap_or_default();
        if is_sink && topics.is_empty() {
            errors.push(ConfigError::Missing("topics".into()));
        }
        let file_grants = match raw.get(files::GRANT_KEY) {
            None => Vec::new(),
            Some(v) => files::parse_grants(v, roots).unwrap_or_else(|reason| {
                errors.push(ConfigError::invalid(files::GRANT_KEY, v, reason));
                Vec::new()
            }),
        };
        let mut converter = |key: &str| {
            raw.get(key)
                .and_then(|v| match ConverterChoice::parse(key, v) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                })
        };
        let key_converter = converter("key.converter");
        let value_converter = converter("value.converter");
        if let Some(v) = raw.get("header.converter")
            && let Err(e) = ConverterChoice::parse("header.converter", v)
        {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let (name, class) = identity(raw).expect("checked above");
        let prefixed = |prefix: &str| -> BTreeMap<String, String> {
            raw.iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
                .collect()
        };
        Ok(ConnectorConfig {
            name,
            class,
            tasks_max,
            topics,
            file_grants,
            key_converter,
            value_converter,
            producer_overrides: prefixed("producer.override."),
            consumer_overrides: prefixed("consumer.override."),
            raw: raw.clone(),
        })
    }
}

fn check_type(type_: ConfigType, value: &str) -> Result<(), String> {
    let v = value.trim();
    let ok = match type_ {
        ConfigType::Int => v.parse::<i32>().is_ok(),
        ConfigType::Long => v.parse::<i64>().is_ok(),
        ConfigType::Double => v.parse::<f64>().is_ok(),
        ConfigType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ConfigType::String | ConfigType::List | ConfigType::Password | ConfigType::Class => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected a value of type {}", type_name(type_)))
    }
}

/// Kafka Connect's name for a key type.
pub fn type_name(type_: ConfigType) -> &'static str {
    match type_ {
        ConfigType::Boolean => "BOOLEAN",
        ConfigType::String => "STRING",
        ConfigType::Int => "INT",
        ConfigType::Long => "LONG",
        ConfigType::Double => "DOUBLE",
        ConfigType::List => "LIST",
        ConfigType::Password => "PASSWORD",
        ConfigType::Class => "CLASS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::map as raw;
    use crate::runtime::bindings::types::Importance;

    fn key(name: &str, type_: ConfigType, required: bool) -> ConfigKey {
        ConfigKey {
            name: name.into(),
            type_,
            default_value: None,
            required,
            importance: Importance::High,
            documentation: String::new(),
            group: None,
            display_name: None,
        }
    }

    fn source_keys() -> Vec<ConfigKey> {
        vec![
            key("file", ConfigType::String, true),
            key("topic", ConfigType::String, true),
            key("batch.size", ConfigType::Int, false),
        ]
    }

    fn roots() -> FileRoots {
        let mut roots = FileRoots::default();
        roots.insert("inbox", "/tmp".into()).unwrap();
        roots
    }

    #[test]
    fn a_good_source_config() {
        let config = ConnectorConfig::check(
            &raw(&[
                ("name", "src"),
                ("connector.class", "file-source"),
                ("file", "/inbox/in.txt"),
                ("topic", "lines"),
                ("grant.files", "inbox:ro"),
            ]),
            PluginKind::Source,
            &source_keys(),
            &roots(),
        )
        .unwrap();
        assert_eq!(config.tasks_max, 1);
        assert_eq!(config.file_grants[0].root, "inbox");
    }

    #[test]
    fn every_problem_is_named() {
        let err = ConnectorConfig::check(
            &raw(&[
                ("name", "src"),
                ("connector.class", "file-source"),
                ("topic", "lines"),
                ("fiel", "/inbox/in.txt"),
                ("batch.size", "lots"),
                ("topics", "x"),
            ]),
            PluginKind::Source,
            &source_keys(),
            &roots(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unknown configuration key \"fiel\", did you mean \"file\"?"),
            "{text}"
        );
        assert!(
            text.contains("missing required configuration \"file\""),
            "{text}"
        );
        assert!(
            text.contains("\"batch.size\": expected a value of type INT"),
            "{text}"
        );
        // `topics` is a sink key; a source does not take it.
        assert!(
            text.contains("unknown configuration key \"topics\""),
            "{text}"
        );
    }

    #[test]
    fn sink_needs_topics() {
        let err = ConnectorConfig::check(
            &raw(&[("name", "snk"), ("connector.class", "file-sink")]),
            PluginKind::Sink,
            &[],
            &roots(),
        )
        .unwrap_err();
        assert_eq!(err.0, [ConfigError::Missing("topics".into())]);
    }

    #[test]
    fn json_converter_is_refused_with_the_alternatives() {
        let err = ConverterChoice::parse(
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        )
        .unwrap_err();
        assert!(err.to_string().contains("StringConverter"));
    }
}
