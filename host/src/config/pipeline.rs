//! What a connector's records pass through between the plugin and Kafka,
//! configured with Kafka Connect's keys: the key, value and header
//! converters (`value.converter` and its `value.converter.*` sub-keys, in
//! the connector or else the worker), the transform chain (`transforms`,
//! `transforms.<alias>.type`, `.predicate`, `.negate`), its predicates
//! (`predicates`, `predicates.<alias>.type`) and the error policy
//! (`errors.*`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::plugin_keys::check_plugin_keys;
use crate::configdef::{ConfigError, list};
use crate::plugin::WitConfig;
use crate::plugin::{Plugin, PluginRegistry};
use crate::runtime::bindings::types::RecordPart;

/// A converter plugin with its configuration.
#[derive(Clone, Debug)]
pub struct ConverterSpec {
    /// What the configuration called it (`org.apache.kafka.connect.json.JsonConverter`).
    pub class: String,
    pub plugin: Arc<Plugin>,
    /// The sub-keys, prefix removed.
    pub config: WitConfig,
}

/// A predicate, as `predicates.<alias>.*` configures it.
#[derive(Clone, Debug)]
pub struct PredicateSpec {
    pub alias: String,
    pub class: String,
    pub plugin: Arc<Plugin>,
    pub config: WitConfig,
}

/// One link of the transform chain.
#[derive(Clone, Debug)]
pub struct TransformSpec {
    pub alias: String,
    /// The type as written, `$Key`/`$Value` included.
    pub class: String,
    pub plugin: Arc<Plugin>,
    pub part: Option<RecordPart>,
    pub config: WitConfig,
    /// The transform applies only to records the predicate matches (or,
    /// negated, does not match).
    pub predicate: Option<PredicateSpec>,
    pub negate: bool,
}

/// `errors.tolerance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tolerance {
    /// The first bad record fails the task.
    None,
    /// Bad records are logged and dead-lettered as configured, and skipped.
    All,
}

/// How a connector treats records that cannot be processed, and retriable
/// failures of its plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPolicy {
    pub tolerance: Tolerance,
    /// How long a retriable failure is retried; `None` without limit.
    pub retry_timeout: Option<Duration>,
    /// The longest wait between two retries.
    pub retry_delay_max: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    pub dead_letter: Option<DeadLetterQueue>,
}

/// `errors.deadletterqueue.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterQueue {
    pub topic: String,
    pub replication_factor: i16,
    pub context_headers: bool,
}

impl Default for ErrorPolicy {
    fn default() -> Self {
        ErrorPolicy {
            tolerance: Tolerance::None,
            retry_timeout: None,
            retry_delay_max: Duration::from_secs(60),
            log_enable: false,
            log_include_messages: false,
            dead_letter: None,
        }
    }
}

/// Converters, transforms and error policy of one connector.
#[derive(Clone, Debug, Default)]
pub struct PipelineSpec {
    /// `None`: bytes pass through unchanged (see docs/decisions.md).
    pub key_converter: Option<ConverterSpec>,
    pub value_converter: Option<ConverterSpec>,
    pub header_converter: Option<ConverterSpec>,
    pub transforms: Vec<TransformSpec>,
    pub errors: ErrorPolicy,
}

/// The error-handling keys every connector may set.
pub const ERROR_KEYS: &[&str] = &[
    "errors.tolerance",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.log.enable",
    "errors.log.include.messages",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.topic.replication.factor",
    "errors.deadletterqueue.context.headers.enable",
];

/// The converter keys; each has `.`-prefixed sub-keys.
pub const CONVERTER_KEYS: &[&str] = &["key.converter", "value.converter", "header.converter"];

impl PipelineSpec {
    /// Reads the pipeline keys of a connector configuration, falling back
    /// to the worker's converters, and checks each plugin's keys.
    pub fn check(
        raw: &BTreeMap<String, String>,
        worker_converters: &BTreeMap<String, String>,
        registry: &PluginRegistry,
        errors: &mut Vec<ConfigError>,
    ) -> PipelineSpec {
        let mut converter = |key: &str| {
            // The connector's converter comes with the connector's
            // sub-keys; without one, the worker's with the worker's.
            let source = if raw.contains_key(key) {
                raw
            } else {
                worker_converters
            };
            converter_spec(source, key, registry, errors)
        };
        let key_converter = converter("key.converter");
        let value_converter = converter("value.converter");
        let header_converter = converter("header.converter");
        let predicates = predicate_specs(raw, registry, errors);
        let transforms = transform_specs(raw, &predicates, registry, errors);
        PipelineSpec {
            key_converter,
            value_converter,
            header_converter,
            transforms,
            errors: error_policy(raw, errors),
        }
    }
}

/// The keys under `prefix`, prefix removed.
fn sub_keys(raw: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    raw.range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k[prefix.len()..].to_string(), v.clone()))
        .collect()
}

fn wit(config: BTreeMap<String, String>) -> WitConfig {
    config.into_iter().collect()
}

fn converter_spec(
    raw: &BTreeMap<String, String>,
    key: &str,
    registry: &PluginRegistry,
    errors: &mut Vec<ConfigError>,
) -> Option<ConverterSpec> {
    let class = raw.get(key)?.trim().to_string();
    let plugin = match registry.resolve_converter(&class) {
        Ok(plugin) => plugin,
        Err(reason) => {
            errors.push(ConfigError::invalid(key, &class, reason));
            return None;
        }
    };
    let prefix = format!("{key}.");
    let config = sub_keys(raw, &prefix);
    check_plugin_keys(&prefix, &config, &plugin.config_keys, errors);
    Some(ConverterSpec {
        class,
        plugin,
        config: wit(config),
    })
}

/// Splits `<prefix><alias>.<rest>` keys by alias, for the aliases listed.
fn aliased(
    raw: &BTreeMap<String, String>,
    list_key: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<(String, BTreeMap<String, String>)> {
    let aliases = raw.get(list_key).map(|v| list(v)).unwrap_or_default();
    let prefix = format!("{list_key}.");
    for key in raw.keys().filter(|k| k.starts_with(&prefix)) {
        let alias = key[prefix.len()..].split('.').next().unwrap_or("");
        if !aliases.iter().any(|a| a == alias) {
            errors.push(ConfigError::invalid(
                key,
                &raw[key],
                format!("\"{alias}\" is not listed in \"{list_key}\""),
            ));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for alias in &aliases {
        if seen.contains(&alias.as_str()) {
            errors.push(ConfigError::invalid(
                list_key,
                &raw[list_key],
                format!("\"{alias}\" is listed twice"),
            ));
            continue;
        }
        seen.push(alias);
        out.push((alias.clone(), sub_keys(raw, &format!("{prefix}{alias}."))));
    }
    out
}

fn predicate_specs(
    raw: &BTreeMap<String, String>,
    registry: &PluginRegistry,
    errors: &mut Vec<ConfigError>,
) -> Vec<PredicateSpec> {
    let mut specs = Vec::new();
    for (alias, mut config) in aliased(raw, "predicates", errors) {
        let type_key = format!("predicates.{alias}.type");
        let Some(class) = config.remove("type") else {
            errors.push(ConfigError::Missing(type_key));
            continue;
        };
        match registry.resolve_predicate(&class) {
            Ok(plugin) => {
                check_plugin_keys(
                    &format!("predicates.{alias}."),
                    &config,
                    &plugin.config_keys,
                    errors,
                );
                specs.push(PredicateSpec {
                    alias,
                    class,
                    plugin,
                    config: wit(config),
                });
            }
            Err(reason) => errors.push(ConfigError::invalid(&type_key, &class, reason)),
        }
    }
    specs
}

fn transform_specs(
    raw: &BTreeMap<String, String>,
    predicates: &[PredicateSpec],
    registry: &PluginRegistry,
    errors: &mut Vec<ConfigError>,
) -> Vec<TransformSpec> {
    let mut specs = Vec::new();
    for (alias, mut config) in aliased(raw, "transforms", errors) {
        let key = |name: &str| format!("transforms.{alias}.{name}");
        let Some(class) = config.remove("type") else {
            errors.push(ConfigError::Missing(key("type")));
            continue;
        };
        let predicate_name = config.remove("predicate");
        let predicate = predicate_name.as_ref().and_then(|name| {
            let found = predicates.iter().find(|p| p.alias == name.trim()).cloned();
            if found.is_none() {
                errors.push(ConfigError::invalid(
                    &key("predicate"),
                    name,
                    "no such predicate is listed in \"predicates\"",
                ));
            }
            found
        });
        let negate = match config.remove("negate") {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    errors.push(ConfigError::invalid(
                        &key("negate"),
                        &v,
                        "expected a value of type BOOLEAN",
                    ));
                    false
                }
            },
        };
        if negate && predicate_name.is_none() {
            errors.push(ConfigError::invalid(
                &key("negate"),
                "true",
                "negate needs a predicate",
            ));
        }
        match registry.resolve_transform(&class) {
            Ok((plugin, part)) => {
                check_plugin_keys(
                    &format!("transforms.{alias}."),
                    &config,
                    &plugin.config_keys,
                    errors,
                );
                specs.push(TransformSpec {
                    alias,
                    class,
                    plugin,
                    part,
                    config: wit(config),
                    predicate,
                    negate,
                });
            }
            Err(reason) => errors.push(ConfigError::invalid(&key("type"), &class, reason)),
        }
    }
    specs
}

fn error_policy(raw: &BTreeMap<String, String>, errors: &mut Vec<ConfigError>) -> ErrorPolicy {
    let mut policy = ErrorPolicy::default();
    let boolean = |key: &str, default: bool, errors: &mut Vec<ConfigError>| match raw
        .get(key)
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => default,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => {
            errors.push(ConfigError::invalid(
                key,
                &v,
                "expected a value of type BOOLEAN",
            ));
            default
        }
    };
    if let Some(v) = raw.get("errors.tolerance") {
        match v.trim().to_ascii_lowercase().as_str() {
            "none" => policy.tolerance = Tolerance::None,
            "all" => policy.tolerance = Tolerance::All,
            _ => errors.push(ConfigError::invalid(
                "errors.tolerance",
                v,
                "expected none or all",
            )),
        }
    }
    if let Some(v) = raw.get("errors.retry.timeout") {
        match v.trim().parse::<i64>() {
            // 0, Kafka Connect's default, keeps its behaviour for a plugin's
            // retriable errors: retried until the task is stopped.
            Ok(-1) | Ok(0) => policy.retry_timeout = None,
            Ok(ms) if ms > 0 => policy.retry_timeout = Some(Duration::from_millis(ms as u64)),
            _ => errors.push(ConfigError::invalid(
                "errors.retry.timeout",
                v,
                "expected milliseconds: 0 or more, or -1 for no limit",
            )),
        }
    }
    if let Some(v) = raw.get("errors.retry.delay.max.ms") {
        match v.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => policy.retry_delay_max = Duration::from_millis(ms),
            _ => errors.push(ConfigError::invalid(
                "errors.retry.delay.max.ms",
                v,
                "expected milliseconds, more than 0",
            )),
        }
    }
    policy.log_enable = boolean("errors.log.enable", false, errors);
    policy.log_include_messages = boolean("errors.log.include.messages", false, errors);
    let context_headers = boolean(
        "errors.deadletterqueue.context.headers.enable",
        false,
        errors,
    );
    let replication_factor = match raw.get("errors.deadletterqueue.topic.replication.factor") {
        None => 3,
        Some(v) => match v.trim().parse::<i16>() {
            Ok(n) if n >= 1 || n == -1 => n,
            _ => {
                errors.push(ConfigError::invalid(
                    "errors.deadletterqueue.topic.replication.factor",
                    v,
                    "expected a whole number of at least 1, or -1 for the broker's default",
                ));
                3
            }
        },
    };
    let topic = raw
        .get("errors.deadletterqueue.topic.name")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    if !topic.is_empty() {
        policy.dead_letter = Some(DeadLetterQueue {
            topic,
            replication_factor,
            context_headers,
        });
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    #[test]
    fn error_policy_reads_kafka_keys() {
        let mut errors = Vec::new();
        let policy = error_policy(
            &map(&[
                ("errors.tolerance", "all"),
                ("errors.retry.timeout", "30000"),
                ("errors.retry.delay.max.ms", "1000"),
                ("errors.log.enable", "true"),
                ("errors.deadletterqueue.topic.name", "dlq"),
                ("errors.deadletterqueue.topic.replication.factor", "1"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ]),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(policy.tolerance, Tolerance::All);
        assert_eq!(policy.retry_timeout, Some(Duration::from_secs(30)));
        assert_eq!(policy.retry_delay_max, Duration::from_secs(1));
        assert!(policy.log_enable && !policy.log_include_messages);
        assert_eq!(
            policy.dead_letter,
            Some(DeadLetterQueue {
                topic: "dlq".into(),
                replication_factor: 1,
                context_headers: true
            })
        );
    }

    #[test]
    fn bad_error_keys_are_named() {
        let mut errors = Vec::new();
        error_policy(
            &map(&[
                ("errors.tolerance", "some"),
                ("errors.retry.timeout", "-5"),
                ("errors.log.enable", "yes"),
            ]),
            &mut errors,
        );
        let keys: Vec<&str> = errors.iter().map(|e| e.key()).collect();
        assert_eq!(
            keys,
            [
                "errors.tolerance",
                "errors.retry.timeout",
                "errors.log.enable"
            ]
        );
    }

    #[test]
    fn aliases_must_be_listed_once() {
        let mut errors = Vec::new();
        let found = aliased(
            &map(&[
                ("transforms", "a, b, a"),
                ("transforms.a.type", "x"),
                ("transforms.c.type", "y"),
            ]),
            "transforms",
            &mut errors,
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1["type"], "x");
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(text[0].contains("\"c\" is not listed"), "{text:?}");
        assert!(text[1].contains("\"a\" is listed twice"), "{text:?}");
    }
}
