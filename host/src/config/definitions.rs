//! Descriptions of configuration keys in Kafka Connect's REST shapes
//! (ConfigKeyInfo, ConfigValueInfo, ConfigInfos): the framework keys every
//! connector has, and a plugin's own keys as its `config-keys` describes
//! them. They serve `GET /connector-plugins/{plugin}/config` and
//! `PUT /connector-plugins/{plugin}/config/validate`.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{sandbox, secrets, topic_creation};
use crate::capability;
use crate::configdef::{ConfigErrors, KeyDefinition};
use crate::plugin::kind::{importance_name, type_name};
use crate::plugin::{Plugin, PluginKind};
use crate::runtime::bindings::types::ConfigKey;
use crate::runtime::limits;

/// One key's definition (Kafka Connect's ConfigKeyInfo).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigKeyInfo {
    pub name: String,
    /// BOOLEAN, STRING, SHORT, INT, LONG, DOUBLE, LIST, PASSWORD or CLASS.
    #[serde(rename = "type")]
    pub type_: String,
    pub required: bool,
    pub default_value: Option<String>,
    /// HIGH, MEDIUM or LOW.
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub order_in_group: i32,
    /// Always NONE: Sluice has no UI hints for widths.
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub order: i32,
}

/// One key's value and its problems (Kafka Connect's ConfigValueInfo).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigValueInfo {
    pub name: String,
    /// As given (a secret reference stays a reference; a PASSWORD is
    /// hidden), or null when not given.
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// A key's definition with its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// The result of validating a configuration (Kafka Connect's ConfigInfos).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigInfos {
    /// The plugin's name.
    pub name: String,
    pub error_count: i32,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const PREDICATES: &str = "Predicates";
const ERRORS: &str = "Error Handling";
const LIMITS: &str = "Limits and Restarts";

/// The framework keys, in the order the REST API lists them (the
/// capabilities' grant keys go before the limits).
const FRAMEWORK: &[KeyDefinition] = &[
    KeyDefinition {
        name: "name",
        type_: "STRING",
        default: None,
        required: true,
        importance: "HIGH",
        group: COMMON,
        documentation: "Globally unique name to use for this connector.",
    },
    KeyDefinition {
        name: "connector.class",
        type_: "STRING",
        default: None,
        required: true,
        importance: "HIGH",
        group: COMMON,
        documentation: "The connector plugin: its name, name@version, or a Kafka Connect class name it \
         accepts as an alias.",
    },
    KeyDefinition {
        name: "tasks.max",
        type_: "INT",
        default: Some("1"),
        required: false,
        importance: "HIGH",
        group: COMMON,
        documentation: "Maximum number of tasks to use for this connector.",
    },
    KeyDefinition {
        name: "key.converter",
        type_: "CLASS",
        default: None,
        required: false,
        importance: "LOW",
        group: COMMON,
        documentation: "Converter for record keys; overrides the worker's key.converter.",
    },
    KeyDefinition {
        name: "value.converter",
        type_: "CLASS",
        default: None,
        required: false,
        importance: "LOW",
        group: COMMON,
        documentation: "Converter for record values; overrides the worker's value.converter.",
    },
    KeyDefinition {
        name: "header.converter",
        type_: "CLASS",
        default: None,
        required: false,
        importance: "LOW",
        group: COMMON,
        documentation: "Converter for record headers; overrides the worker's header.converter.",
    },
    KeyDefinition {
        name: "transforms",
        type_: "LIST",
        default: Some(""),
        required: false,
        importance: "LOW",
        group: TRANSFORMS,
        documentation: "Aliases for the transformations to be applied to records, in order; each is \
         configured with transforms.<alias>.type and its own keys under transforms.<alias>.",
    },
    KeyDefinition {
        name: "predicates",
        type_: "LIST",
        default: Some(""),
        required: false,
        importance: "LOW",
        group: PREDICATES,
        documentation: "Aliases for the predicates used by transformations; each is configured with \
         predicates.<alias>.type and its own keys under predicates.<alias>.",
    },
    KeyDefinition {
        name: "errors.retry.timeout",
        type_: "LONG",
        default: Some("0"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "How long, in milliseconds, a retriable error of the connector is retried: 0 or -1 \
         retry until the task is stopped.",
    },
    KeyDefinition {
        name: "errors.retry.delay.max.ms",
        type_: "LONG",
        default: Some("60000"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "The longest wait, in milliseconds, between consecutive retries.",
    },
    KeyDefinition {
        name: "errors.tolerance",
        type_: "STRING",
        default: Some("none"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "none: a record that fails in conversion, transformation or the connector fails the \
         task. all: such records are skipped (logged and dead-lettered as configured).",
    },
    KeyDefinition {
        name: "errors.log.enable",
        type_: "BOOLEAN",
        default: Some("false"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "Log each failed operation and record at ERROR.",
    },
    KeyDefinition {
        name: "errors.log.include.messages",
        type_: "BOOLEAN",
        default: Some("false"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "Include the failed record's key and value in the log.",
    },
    KeyDefinition {
        name: "errors.deadletterqueue.topic.name",
        type_: "STRING",
        default: Some(""),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "The topic failed records are written to, for sink and (beyond Kafka Connect) source \
         connectors; empty for none.",
    },
    KeyDefinition {
        name: "errors.deadletterqueue.topic.replication.factor",
        type_: "SHORT",
        default: Some("3"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "The replication factor of the dead-letter topic when it is created, at most the \
         number of brokers.",
    },
    KeyDefinition {
        name: "errors.deadletterqueue.context.headers.enable",
        type_: "BOOLEAN",
        default: Some("false"),
        required: false,
        importance: "MEDIUM",
        group: ERRORS,
        documentation: "Add __connect.errors.* headers describing the failure to each dead letter.",
    },
    KeyDefinition {
        name: limits::MEMORY_MAX_KEY,
        type_: "LONG",
        default: None,
        required: false,
        importance: "MEDIUM",
        group: LIMITS,
        documentation: "The most linear memory all of a task's plugin instances may hold together, in bytes. \
         A task that needs more fails with a trace naming this limit. Defaults to the \
         worker's setting (256 MiB unless set).",
    },
    KeyDefinition {
        name: limits::CALL_TIMEOUT_KEY,
        type_: "LONG",
        default: None,
        required: false,
        importance: "MEDIUM",
        group: LIMITS,
        documentation: "How long one call into a plugin (a poll, a put, a transform batch) may run, in ms. \
         Defaults to the worker's setting (60000 unless set).",
    },
    KeyDefinition {
        name: sandbox::RESTART_ENABLED_KEY,
        type_: "BOOLEAN",
        default: Some("true"),
        required: false,
        importance: "MEDIUM",
        group: LIMITS,
        documentation: "Restart a failed task automatically, after a backoff.",
    },
    KeyDefinition {
        name: sandbox::RESTART_INITIAL_KEY,
        type_: "LONG",
        default: Some("1000"),
        required: false,
        importance: "LOW",
        group: LIMITS,
        documentation: "The wait before the first automatic restart, in ms; it doubles with each failure.",
    },
    KeyDefinition {
        name: sandbox::RESTART_MAX_KEY,
        type_: "LONG",
        default: Some("30000"),
        required: false,
        importance: "LOW",
        group: LIMITS,
        documentation: "The longest wait between automatic restarts, in ms.",
    },
    KeyDefinition {
        name: sandbox::RESTART_RESET_KEY,
        type_: "LONG",
        default: Some("10000"),
        required: false,
        importance: "LOW",
        group: LIMITS,
        documentation: "After running this long without failing, a task's restart wait starts over, in ms.",
    },
];

/// A sink's topics: exactly one of the two is set.
const SINK_TOPICS: [KeyDefinition; 2] = [
    KeyDefinition {
        name: "topics",
        type_: "LIST",
        default: Some(""),
        required: false,
        importance: "HIGH",
        group: COMMON,
        documentation: "List of topics to consume, separated by commas. Set this or topics.regex.",
    },
    KeyDefinition {
        name: "topics.regex",
        type_: "STRING",
        default: Some(""),
        required: false,
        importance: "HIGH",
        group: COMMON,
        documentation: "Regular expression giving topics to consume: every topic whose whole name matches, including topics created later. Set this or topics.",
    },
];

const TOPIC_CREATION: &str = "Topic Creation";

/// A source's topic creation keys (KIP-158); the groups of
/// `topic.creation.groups` add `topic.creation.<group>.*` of their own.
const SOURCE_TOPIC_CREATION: [KeyDefinition; 3] = [
    KeyDefinition {
        name: topic_creation::GROUPS_KEY,
        type_: "LIST",
        default: Some(""),
        required: false,
        importance: "LOW",
        group: TOPIC_CREATION,
        documentation: "Groups of topics created with settings of their own, tried in order: topic.creation.<group>.include and .exclude (regular expressions), .partitions, .replication.factor and topic configs.",
    },
    KeyDefinition {
        name: "topic.creation.default.replication.factor",
        type_: "INT",
        default: None,
        required: false,
        importance: "LOW",
        group: TOPIC_CREATION,
        documentation: "Replication factor of the topics the connector creates (-1: the broker's default). Needed, with topic.creation.default.partitions, once any topic.creation key is set.",
    },
    KeyDefinition {
        name: "topic.creation.default.partitions",
        type_: "INT",
        default: None,
        required: false,
        importance: "LOW",
        group: TOPIC_CREATION,
        documentation: "Partitions of the topics the connector creates (-1: the broker's default). Needed, with topic.creation.default.replication.factor, once any topic.creation key is set.",
    },
];

/// Every key a connector of `plugin` accepts: the framework's, then the
/// plugin's own.
pub fn definitions(plugin: &Plugin) -> Vec<ConfigKeyInfo> {
    let mut framework: Vec<&KeyDefinition> = FRAMEWORK.iter().collect();
    match plugin.kind {
        PluginKind::Sink => framework.splice(3..3, &SINK_TOPICS).for_each(drop),
        PluginKind::Source => framework.extend(&SOURCE_TOPIC_CREATION),
        _ => {}
    }
    // The grants come from the capabilities, after error handling and
    // before the limits, where Kafka Connect users look for security keys.
    let limits_at = framework
        .iter()
        .position(|key| key.group == LIMITS)
        .unwrap_or(framework.len());
    framework.splice(limits_at..limits_at, capability::connector_keys());
    let mut out: Vec<ConfigKeyInfo> = framework.into_iter().map(framework_key).collect();
    out.extend(plugin.config_keys.iter().map(|k| plugin_key(plugin, k)));
    number(&mut out);
    out
}

/// A key the host reads, in Kafka Connect's REST shape.
fn framework_key(key: &KeyDefinition) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: key.name.to_string(),
        type_: key.type_.to_string(),
        required: key.required,
        default_value: key.default.map(String::from),
        importance: key.importance.to_string(),
        documentation: key.documentation.to_string(),
        group: Some(key.group.to_string()),
        order_in_group: 0,
        width: "NONE".into(),
        display_name: key.name.to_string(),
        dependents: Vec::new(),
        order: 0,
    }
}

fn plugin_key(plugin: &Plugin, key: &ConfigKey) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: key.name.clone(),
        type_: type_name(key.type_).to_string(),
        required: key.required && key.default_value.is_none(),
        default_value: key.default_value.clone(),
        importance: importance_name(key.importance).into(),
        documentation: key.documentation.clone(),
        group: Some(
            key.group
                .clone()
                .unwrap_or_else(|| plugin.metadata.name.clone()),
        ),
        order_in_group: 0,
        width: "NONE".into(),
        display_name: key.display_name.clone().unwrap_or_else(|| key.name.clone()),
        dependents: Vec::new(),
        order: 0,
    }
}

/// Kafka Connect numbers keys from 1 overall and within each group.
fn number(keys: &mut [ConfigKeyInfo]) {
    let mut per_group: BTreeMap<Option<String>, i32> = BTreeMap::new();
    for (i, key) in keys.iter_mut().enumerate() {
        key.order = i as i32 + 1;
        let n = per_group.entry(key.group.clone()).or_default();
        *n += 1;
        key.order_in_group = *n;
    }
}

/// The validation report for `raw` against `plugin`: every definition with
/// its value and errors, and an entry for each key that is not defined.
pub fn report(
    plugin: &Plugin,
    raw: &BTreeMap<String, String>,
    errors: &ConfigErrors,
) -> ConfigInfos {
    let mut definitions = definitions(plugin);
    for key in raw.keys() {
        if !definitions.iter().any(|d| &d.name == key) {
            definitions.push(ConfigKeyInfo {
                name: key.clone(),
                type_: "STRING".into(),
                required: false,
                default_value: None,
                importance: "LOW".into(),
                documentation: String::new(),
                group: None,
                order_in_group: 0,
                width: "NONE".into(),
                display_name: key.clone(),
                dependents: Vec::new(),
                order: 0,
            });
        }
    }
    let mut groups: Vec<String> = Vec::new();
    for group in definitions.iter().filter_map(|d| d.group.clone()) {
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    let configs: Vec<ConfigInfo> = definitions
        .into_iter()
        .map(|definition| {
            let key_errors: Vec<String> = errors
                .0
                .iter()
                .filter(|e| e.key() == definition.name)
                .map(|e| e.to_string())
                .collect();
            let value = raw.get(&definition.name).map(|v| {
                if definition.type_ == "PASSWORD" && !secrets::has_reference(v) {
                    secrets::MASK.to_string()
                } else {
                    v.clone()
                }
            });
            ConfigInfo {
                value: ConfigValueInfo {
                    name: definition.name.clone(),
                    value,
                    recommended_values: Vec::new(),
                    errors: key_errors,
                    visible: true,
                },
                definition,
            }
        })
        .collect();
    ConfigInfos {
        name: plugin.metadata.name.clone(),
        error_count: errors.0.len() as i32,
        groups,
        configs,
    }
}
