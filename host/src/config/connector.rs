//! A connector's configuration: the framework keys the host owns (as in
//! Kafka Connect), the grants, and the plugin's own keys, checked against
//! the plugin's description of them.

use std::collections::{BTreeMap, BTreeSet};

use super::client_security;
use super::pipeline::{ERROR_KEYS, PipelineSpec};
use super::plugin_keys::check_plugin_keys;
use super::sandbox::{SANDBOX_KEYS, SandboxSpec};
use super::topic_creation::{self, TopicCreation};
use crate::capability::{self, Definitions, Grants};
use crate::configdef::{ConfigError, ConfigErrors, list};
use crate::plugin::{PluginKind, PluginRegistry};
use crate::runtime::bindings::types::{ConfigKey, ConfigType};
use crate::runtime::limits::TaskLimits;

/// Framework keys every connector may set.
const FRAMEWORK_KEYS: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "key.converter",
    "value.converter",
    "header.converter",
    "transforms",
    "predicates",
];
/// Framework keys only sink connectors may set.
const SINK_KEYS: &[&str] = &[TOPICS_KEY, TOPICS_REGEX_KEY];
const TOPICS_KEY: &str = "topics";
const TOPICS_REGEX_KEY: &str = "topics.regex";
const FRAMEWORK_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.override.",
    "consumer.override.",
    // Checked with the pipeline (config/pipeline.rs).
    "transforms.",
    "predicates.",
];

/// A connector configuration that passed every check.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    pub tasks_max: u32,
    /// The topics a sink consumes.
    pub topics: SinkTopics,
    /// How a source's new topics are created (`topic.creation.*`), when
    /// its configuration says.
    pub topic_creation: Option<TopicCreation>,
    /// What each capability granted it (`grant.files`, `grant.net`,
    /// `grant.sql`, ...).
    pub grants: Grants,
    /// Converters, transforms and error policy.
    pub pipeline: PipelineSpec,
    /// The tasks' limits and restart policy.
    pub sandbox: SandboxSpec,
    /// `producer.override.*` and `consumer.override.*`, prefix removed.
    pub producer_overrides: BTreeMap<String, String>,
    pub consumer_overrides: BTreeMap<String, String>,
    /// The whole configuration, as handed to the plugin (Kafka Connect hands
    /// connectors their framework keys too).
    pub raw: BTreeMap<String, String>,
}

/// What a sink consumes: the topics `topics` names, or every topic whose
/// whole name matches `topics.regex` (Java's `Pattern.matches`), including
/// topics created after it starts.
#[derive(Clone, Debug)]
pub enum SinkTopics {
    Named(Vec<String>),
    Pattern(regex::Regex),
}

impl SinkTopics {
    /// Exactly one of `topics` and `topics.regex`, with Kafka Connect's
    /// messages; the dead letter queue may not be among the topics read.
    fn check(raw: &BTreeMap<String, String>, errors: &mut Vec<ConfigError>) -> SinkTopics {
        let given = |key: &str| raw.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let dead_letters = given("errors.deadletterqueue.topic.name");
        match (given(TOPICS_KEY), given(TOPICS_REGEX_KEY)) {
            (Some(names), Some(_)) => {
                errors.push(ConfigError::invalid(
                    TOPICS_KEY,
                    names,
                    "topics and topics.regex are mutually exclusive options, but both are set.",
                ));
                SinkTopics::Named(Vec::new())
            }
            (None, None) => {
                errors.push(ConfigError::invalid(
                    TOPICS_KEY,
                    "",
                    "Must configure one of topics or topics.regex",
                ));
                SinkTopics::Named(Vec::new())
            }
            (Some(names), None) => {
                let topics = list(names);
                if let Some(dlq) = dead_letters.filter(|d| topics.iter().any(|t| t == d)) {
                    errors.push(ConfigError::invalid(
                        TOPICS_KEY,
                        names,
                        format!("The DLQ topic '{dlq}' may not be included in the list of topics ('topics={names}') to be consumed."),
                    ));
                }
                SinkTopics::Named(topics)
            }
            (None, Some(pattern)) => match regex::Regex::new(&format!("^(?:{pattern})$")) {
                Ok(regex) => {
                    if let Some(dlq) = dead_letters.filter(|d| regex.is_match(d)) {
                        errors.push(ConfigError::invalid(
                            TOPICS_REGEX_KEY,
                            pattern,
                            format!("The DLQ topic '{dlq}' may not be included in the regex matching topics to be consumed ('topics.regex={pattern}')."),
                        ));
                    }
                    SinkTopics::Pattern(regex)
                }
                Err(e) => {
                    errors.push(ConfigError::invalid(
                        TOPICS_REGEX_KEY,
                        pattern,
                        format!("not a valid regular expression: {e}"),
                    ));
                    SinkTopics::Named(Vec::new())
                }
            },
        }
    }

    /// The topics named, if they are named rather than matched.
    pub fn named(&self) -> &[String] {
        match self {
            SinkTopics::Named(topics) => topics,
            SinkTopics::Pattern(_) => &[],
        }
    }

    /// Whether the sink reads `topic`.
    pub fn includes(&self, topic: &str) -> bool {
        match self {
            SinkTopics::Named(topics) => topics.iter().any(|t| t == topic),
            SinkTopics::Pattern(regex) => regex.is_match(topic),
        }
    }
}

/// The keys of `raw` that a plugin declares as passwords: the connector's
/// own, and `<prefix><key>` for the converters, transforms and predicates
/// it names. Only these may hold a config provider reference (see
/// config/secrets.rs). Plugins that cannot be found add nothing here; the
/// check names them.
pub fn password_keys(
    raw: &BTreeMap<String, String>,
    registry: &PluginRegistry,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |prefix: &str, keys: &[ConfigKey]| {
        for key in keys.iter().filter(|k| k.type_ == ConfigType::Password) {
            out.insert(format!("{prefix}{}", key.name));
        }
    };
    if let Some(plugin) = raw
        .get("connector.class")
        .and_then(|class| registry.resolve_connector(class.trim()).ok())
    {
        add("", &plugin.config_keys);
    }
    for converter in super::pipeline::CONVERTER_KEYS {
        if let Some(plugin) = raw
            .get(*converter)
            .and_then(|class| registry.resolve_converter(class.trim()).ok())
        {
            add(&format!("{converter}."), &plugin.config_keys);
        }
    }
    let aliases = |list_key: &str| raw.get(list_key).map(|v| list(v)).unwrap_or_default();
    for alias in aliases("transforms") {
        if let Some((plugin, _)) = raw
            .get(&format!("transforms.{alias}.type"))
            .and_then(|class| registry.resolve_transform(class.trim()).ok())
        {
            add(&format!("transforms.{alias}."), &plugin.config_keys);
        }
    }
    for alias in aliases("predicates") {
        if let Some(plugin) = raw
            .get(&format!("predicates.{alias}.type"))
            .and_then(|class| registry.resolve_predicate(class.trim()).ok())
        {
            add(&format!("predicates.{alias}."), &plugin.config_keys);
        }
    }
    out
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
    /// grants defined by the worker, and converters, transforms and
    /// predicates installed, with keys of their own that check out too.
    pub fn check(
        raw: &BTreeMap<String, String>,
        kind: PluginKind,
        plugin_keys: &[ConfigKey],
        context: &CheckContext<'_>,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = match identity(raw) {
            Ok(_) => Vec::new(),
            Err(e) => e.0,
        };
        let is_sink = kind == PluginKind::Sink;
        let mut known: Vec<&str> = FRAMEWORK_KEYS.to_vec();
        known.extend(ERROR_KEYS);
        known.extend(SANDBOX_KEYS);
        known.extend(capability::connector_keys().iter().map(|k| k.name));
        if is_sink {
            known.extend(SINK_KEYS);
        }
        let source_prefix = (!is_sink).then_some(topic_creation::PREFIX);
        known.extend(plugin_keys.iter().map(|k| k.name.as_str()));
        for key in raw.keys() {
            if !known.contains(&key.as_str())
                && !FRAMEWORK_PREFIXES.iter().any(|p| key.starts_with(p))
                && !source_prefix.is_some_and(|p| key.starts_with(p))
            {
                errors.push(ConfigError::unknown(key, &known));
            }
        }
        let own: BTreeMap<String, String> = plugin_keys
            .iter()
            .filter_map(|k| raw.get(&k.name).map(|v| (k.name.clone(), v.clone())))
            .collect();
        check_plugin_keys("", &own, plugin_keys, &mut errors);
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
        let topics = if is_sink {
            SinkTopics::check(raw, &mut errors)
        } else {
            SinkTopics::Named(Vec::new())
        };
        let topic_creation = if is_sink {
            None
        } else {
            TopicCreation::check(raw, &mut errors)
        };
        let grants = context.capabilities.grants(raw, &mut errors);
        let pipeline = PipelineSpec::check(
            raw,
            context.worker_converters,
            context.registry,
            &mut errors,
        );
        let sandbox = SandboxSpec::check(raw, context.task_limits, &mut errors);
        // Client overrides in librdkafka's names, security keys translated.
        let mut overrides = |prefix: &str| -> BTreeMap<String, String> {
            let given = raw
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
                .collect();
            client_security::translate(&given, prefix, &mut errors)
        };
        let producer_overrides = overrides("producer.override.");
        let consumer_overrides = overrides("consumer.override.");
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let (name, class) = identity(raw).expect("checked above");
        Ok(ConnectorConfig {
            name,
            class,
            tasks_max,
            topics,
            topic_creation,
            grants,
            pipeline,
            sandbox,
            producer_overrides,
            consumer_overrides,
            raw: raw.clone(),
        })
    }
}

/// What checking a connector configuration needs from the worker.
pub struct CheckContext<'a> {
    /// What each capability defines, for the grants.
    pub capabilities: &'a Definitions,
    pub registry: &'a PluginRegistry,
    /// The worker's `key.converter`, `value.converter`, `header.converter`
    /// and their sub-keys.
    pub worker_converters: &'a BTreeMap<String, String>,
    /// The worker's default task limits.
    pub task_limits: &'a TaskLimits,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map as raw;
    use crate::runtime::bindings::types::{ConfigType, Importance};

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

    /// Checks against a worker with the `inbox` root and no converter,
    /// transform or predicate plugins.
    fn check(
        raw: &BTreeMap<String, String>,
        kind: PluginKind,
        keys: &[ConfigKey],
    ) -> Result<ConnectorConfig, ConfigErrors> {
        let mut capabilities = Definitions::default();
        capabilities.files.insert("inbox", "/tmp".into()).unwrap();
        let context = CheckContext {
            capabilities: &capabilities,
            registry: &PluginRegistry::default(),
            worker_converters: &BTreeMap::new(),
            task_limits: &TaskLimits::default(),
        };
        ConnectorConfig::check(raw, kind, keys, &context)
    }

    #[test]
    fn a_good_source_config() {
        let config = check(
            &raw(&[
                ("name", "src"),
                ("connector.class", "file-source"),
                ("file", "/inbox/in.txt"),
                ("topic", "lines"),
                ("grant.files", "inbox:ro"),
            ]),
            PluginKind::Source,
            &source_keys(),
        )
        .unwrap();
        assert_eq!(config.tasks_max, 1);
        assert_eq!(config.grants.files[0].root, "inbox");
    }

    #[test]
    fn every_problem_is_named() {
        let err = check(
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
        let err = check(
            &raw(&[("name", "snk"), ("connector.class", "file-sink")]),
            PluginKind::Sink,
            &[],
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].key(), "topics");
        assert!(
            err.to_string()
                .contains("Must configure one of topics or topics.regex"),
            "{err}"
        );
    }

    fn sink(pairs: &[(&str, &str)]) -> Result<ConnectorConfig, ConfigErrors> {
        let mut all = vec![("name", "snk"), ("connector.class", "file-sink")];
        all.extend(pairs);
        check(&raw(&all), PluginKind::Sink, &[])
    }

    #[test]
    fn a_sink_reads_named_topics_or_a_pattern_of_whole_names() {
        let named = sink(&[("topics", "a, b")]).unwrap().topics;
        assert_eq!(named.named(), ["a", "b"]);
        assert!(named.includes("b") && !named.includes("c"));
        let matched = sink(&[("topics.regex", "orders-.*|audit")]).unwrap().topics;
        assert!(matched.includes("orders-eu") && matched.includes("audit"));
        assert!(!matched.includes("old-orders-eu") && !matched.includes("audit2"));
        assert!(matched.named().is_empty());
    }

    #[test]
    fn topics_and_topics_regex_exclude_each_other_and_the_dead_letter_queue() {
        let both = sink(&[("topics", "a"), ("topics.regex", "a.*")]).unwrap_err();
        assert!(
            both.to_string().contains(
                "topics and topics.regex are mutually exclusive options, but both are set."
            ),
            "{both}"
        );
        let bad = sink(&[("topics.regex", "(a")]).unwrap_err();
        assert_eq!(bad.0[0].key(), "topics.regex");
        let dlq = sink(&[
            ("topics.regex", "events.*"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "events-dlq"),
        ])
        .unwrap_err();
        assert!(
            dlq.to_string()
                .contains("The DLQ topic 'events-dlq' may not be included in the regex"),
            "{dlq}"
        );
        let listed = sink(&[
            ("topics", "in,dlq"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ])
        .unwrap_err();
        assert!(
            listed
                .to_string()
                .contains("may not be included in the list of topics"),
            "{listed}"
        );
    }

    #[test]
    fn topic_creation_keys_belong_to_sources() {
        let err = sink(&[("topics", "a"), ("topic.creation.default.partitions", "3")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown configuration key \"topic.creation.default.partitions\""),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_converter_is_named() {
        let err = check(
            &raw(&[
                ("name", "src"),
                ("connector.class", "file-source"),
                ("file", "/inbox/in.txt"),
                ("topic", "lines"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
            ]),
            PluginKind::Source,
            &source_keys(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"value.converter\": no converter plugin named"),
            "{text}"
        );
    }
}
