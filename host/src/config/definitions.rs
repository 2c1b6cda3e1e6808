//! Descriptions of configuration keys in Kafka Connect's REST shapes
//! (ConfigKeyInfo, ConfigValueInfo, ConfigInfos): the framework keys every
//! connector has, and a plugin's own keys as its `config-keys` describes
//! them. They serve `GET /connector-plugins/{plugin}/config` and
//! `PUT /connector-plugins/{plugin}/config/validate`.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{sandbox, secrets};
use crate::capability::{self, GRANTS_GROUP};
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

/// A framework key: name, type, default, required, importance, group and
/// documentation.
type FrameworkKey = (
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
    &'static str,
    &'static str,
    &'static str,
);

const FRAMEWORK: &[FrameworkKey] = &[
    (
        "name",
        "STRING",
        None,
        true,
        "HIGH",
        COMMON,
        "Globally unique name to use for this connector.",
    ),
    (
        "connector.class",
        "STRING",
        None,
        true,
        "HIGH",
        COMMON,
        "The connector plugin: its name, name@version, or a Kafka Connect class name it \
         accepts as an alias.",
    ),
    (
        "tasks.max",
        "INT",
        Some("1"),
        false,
        "HIGH",
        COMMON,
        "Maximum number of tasks to use for this connector.",
    ),
    (
        "key.converter",
        "CLASS",
        None,
        false,
        "LOW",
        COMMON,
        "Converter for record keys; overrides the worker's key.converter.",
    ),
    (
        "value.converter",
        "CLASS",
        None,
        false,
        "LOW",
        COMMON,
        "Converter for record values; overrides the worker's value.converter.",
    ),
    (
        "header.converter",
        "CLASS",
        None,
        false,
        "LOW",
        COMMON,
        "Converter for record headers; overrides the worker's header.converter.",
    ),
    (
        "transforms",
        "LIST",
        Some(""),
        false,
        "LOW",
        TRANSFORMS,
        "Aliases for the transformations to be applied to records, in order; each is \
         configured with transforms.<alias>.type and its own keys under transforms.<alias>.",
    ),
    (
        "predicates",
        "LIST",
        Some(""),
        false,
        "LOW",
        PREDICATES,
        "Aliases for the predicates used by transformations; each is configured with \
         predicates.<alias>.type and its own keys under predicates.<alias>.",
    ),
    (
        "errors.retry.timeout",
        "LONG",
        Some("0"),
        false,
        "MEDIUM",
        ERRORS,
        "How long, in milliseconds, a retriable error of the connector is retried: 0 or -1 \
         retry until the task is stopped.",
    ),
    (
        "errors.retry.delay.max.ms",
        "LONG",
        Some("60000"),
        false,
        "MEDIUM",
        ERRORS,
        "The longest wait, in milliseconds, between consecutive retries.",
    ),
    (
        "errors.tolerance",
        "STRING",
        Some("none"),
        false,
        "MEDIUM",
        ERRORS,
        "none: a record that fails in conversion, transformation or the connector fails the \
         task. all: such records are skipped (logged and dead-lettered as configured).",
    ),
    (
        "errors.log.enable",
        "BOOLEAN",
        Some("false"),
        false,
        "MEDIUM",
        ERRORS,
        "Log each failed operation and record at ERROR.",
    ),
    (
        "errors.log.include.messages",
        "BOOLEAN",
        Some("false"),
        false,
        "MEDIUM",
        ERRORS,
        "Include the failed record's key and value in the log.",
    ),
    (
        "errors.deadletterqueue.topic.name",
        "STRING",
        Some(""),
        false,
        "MEDIUM",
        ERRORS,
        "The topic failed records are written to, for sink and (beyond Kafka Connect) source \
         connectors; empty for none.",
    ),
    (
        "errors.deadletterqueue.topic.replication.factor",
        "SHORT",
        Some("3"),
        false,
        "MEDIUM",
        ERRORS,
        "The replication factor of the dead-letter topic when it is created, at most the \
         number of brokers.",
    ),
    (
        "errors.deadletterqueue.context.headers.enable",
        "BOOLEAN",
        Some("false"),
        false,
        "MEDIUM",
        ERRORS,
        "Add __connect.errors.* headers describing the failure to each dead letter.",
    ),
    (
        limits::MEMORY_MAX_KEY,
        "LONG",
        None,
        false,
        "MEDIUM",
        LIMITS,
        "The most linear memory all of a task's plugin instances may hold together, in bytes. \
         A task that needs more fails with a trace naming this limit. Defaults to the \
         worker's setting (256 MiB unless set).",
    ),
    (
        limits::CALL_TIMEOUT_KEY,
        "LONG",
        None,
        false,
        "MEDIUM",
        LIMITS,
        "How long one call into a plugin (a poll, a put, a transform batch) may run, in ms. \
         Defaults to the worker's setting (60000 unless set).",
    ),
    (
        sandbox::RESTART_ENABLED_KEY,
        "BOOLEAN",
        Some("true"),
        false,
        "MEDIUM",
        LIMITS,
        "Restart a failed task automatically, after a backoff.",
    ),
    (
        sandbox::RESTART_INITIAL_KEY,
        "LONG",
        Some("1000"),
        false,
        "LOW",
        LIMITS,
        "The wait before the first automatic restart, in ms; it doubles with each failure.",
    ),
    (
        sandbox::RESTART_MAX_KEY,
        "LONG",
        Some("30000"),
        false,
        "LOW",
        LIMITS,
        "The longest wait between automatic restarts, in ms.",
    ),
    (
        sandbox::RESTART_RESET_KEY,
        "LONG",
        Some("10000"),
        false,
        "LOW",
        LIMITS,
        "After running this long without failing, a task's restart wait starts over, in ms.",
    ),
];

const SINK_TOPICS: FrameworkKey = (
    "topics",
    "LIST",
    None,
    true,
    "HIGH",
    COMMON,
    "List of topics to consume, separated by commas.",
);

/// Every key a connector of `plugin` accepts: the framework's, then the
/// plugin's own.
pub fn definitions(plugin: &Plugin) -> Vec<ConfigKeyInfo> {
    let mut framework: Vec<&FrameworkKey> = FRAMEWORK.iter().collect();
    if plugin.kind == PluginKind::Sink {
        framework.insert(3, &SINK_TOPICS);
    }
    let key = |(name, type_, default, required, importance, group, doc): &FrameworkKey| {
        framework_key(&KeyDefinition {
            name,
            type_,
            default: *default,
            required: *required,
            importance,
            group,
            documentation: doc,
        })
    };
    // The grants come from the capabilities, after error handling and
    // before the limits, where Kafka Connect users look for security keys.
    let limits_at = framework
        .iter()
        .position(|(_, _, _, _, _, group, _)| *group == LIMITS)
        .unwrap_or(framework.len());
    let mut out: Vec<ConfigKeyInfo> = framework[..limits_at].iter().map(|k| key(k)).collect();
    out.extend(capability::connector_keys().into_iter().map(framework_key));
    out.extend(framework[limits_at..].iter().map(|k| key(k)));
    out.extend(plugin.config_keys.iter().map(|k| plugin_key(plugin, k)));
    number(&mut out);
    out
}

/// A key the host reads, in Kafka Connect's REST shape.
fn framework_key(key: &KeyDefinition) -> ConfigKeyInfo {
    debug_assert!(key.group != GRANTS_GROUP || key.name.contains('.'));
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
