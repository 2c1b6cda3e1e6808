//! Topic creation for source connectors (Kafka Connect's KIP-158): the
//! `topic.creation.*` keys say with how many partitions, which replication
//! factor and which topic configs the topics a source writes to are
//! created, by groups of topics chosen with include/exclude patterns.

use std::collections::BTreeMap;

use regex::Regex;

use crate::configdef::{ConfigError, list};

/// Every key of the feature starts with it.
pub const PREFIX: &str = "topic.creation.";
/// The groups besides `default`, in the order they are tried.
pub const GROUPS_KEY: &str = "topic.creation.groups";
/// The worker key that turns the feature off for every connector.
pub const ENABLE_KEY: &str = "topic.creation.enable";
const DEFAULT_GROUP: &str = "default";

/// How a topic is created: partitions and replication factor (-1: the
/// broker's default) and topic configs (`cleanup.policy`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopicSettings {
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: BTreeMap<String, String>,
}

impl NewTopicSettings {
    /// What a source's topics get when its connector sets no
    /// `topic.creation.*` key. Kafka Connect leaves such topics to the
    /// broker's automatic creation (one partition unless the broker says
    /// otherwise); the host creates them itself, as not every broker creates
    /// topics on first use.
    pub fn unconfigured() -> Self {
        NewTopicSettings {
            partitions: 1,
            replication_factor: 1,
            configs: BTreeMap::new(),
        }
    }
}

/// One group: the topics it applies to and how they are created.
#[derive(Clone, Debug)]
struct TopicGroup {
    include: Option<Regex>,
    exclude: Option<Regex>,
    settings: NewTopicSettings,
}

impl TopicGroup {
    fn matches(&self, topic: &str) -> bool {
        !self.exclude.as_ref().is_some_and(|r| r.is_match(topic))
            && self.include.as_ref().is_some_and(|r| r.is_match(topic))
    }
}

/// A source connector's topic creation rules, present when its
/// configuration sets any `topic.creation.*` key.
#[derive(Clone, Debug)]
pub struct TopicCreation {
    /// The groups of `topic.creation.groups`, in order.
    groups: Vec<TopicGroup>,
    /// Applies to every topic no group matches.
    default: NewTopicSettings,
}

impl TopicCreation {
    /// The settings for `topic`: those of the first group that includes it
    /// and does not exclude it, else the default group's.
    pub fn settings_for(&self, topic: &str) -> &NewTopicSettings {
        self.groups
            .iter()
            .find(|g| g.matches(topic))
            .map(|g| &g.settings)
            .unwrap_or(&self.default)
    }

    /// Reads the `topic.creation.*` keys of a source connector's `raw`
    /// configuration; `None` when there are none. As in Kafka Connect the
    /// default group needs `replication.factor` and `partitions`, the other
    /// groups take theirs from it when they set none, and a topic is matched
    /// by whole name (Java's `Pattern.matches`). Every key is checked: a key
    /// of a group that `topic.creation.groups` does not list is refused by
    /// name rather than ignored.
    pub fn check(raw: &BTreeMap<String, String>, errors: &mut Vec<ConfigError>) -> Option<Self> {
        if !raw.keys().any(|k| k.starts_with(PREFIX)) {
            return None;
        }
        let names: Vec<String> = raw.get(GROUPS_KEY).map(|v| list(v)).unwrap_or_default();
        if names.iter().any(|n| n == DEFAULT_GROUP) {
            errors.push(ConfigError::invalid(
                GROUPS_KEY,
                &raw[GROUPS_KEY],
                "\"default\" is always defined; list only the other groups",
            ));
        }
        for key in raw.keys().filter(|k| k.starts_with(PREFIX)) {
            let rest = &key[PREFIX.len()..];
            if key == GROUPS_KEY || key == ENABLE_KEY {
                continue;
            }
            let known_group = std::iter::once(DEFAULT_GROUP)
                .chain(names.iter().map(String::as_str))
                .any(|g| rest.strip_prefix(g).is_some_and(|r| r.starts_with('.')));
            if !known_group {
                errors.push(ConfigError::invalid(
                    key,
                    &raw[key],
                    format!(
                        "no topic creation group of this name: name it in {GROUPS_KEY} (now \"{}\") or use topic.creation.default.*",
                        names.join(",")
                    ),
                ));
            }
        }
        if raw.contains_key(ENABLE_KEY) {
            errors.push(ConfigError::invalid(
                ENABLE_KEY,
                &raw[ENABLE_KEY],
                "a worker key: set it in the worker's configuration",
            ));
        }
        let default_prefix = format!("{PREFIX}{DEFAULT_GROUP}.");
        let required = |field: &str, errors: &mut Vec<ConfigError>| {
            let key = format!("{default_prefix}{field}");
            if raw.contains_key(&key) {
                count(raw, &key, errors)
            } else {
                errors.push(ConfigError::Missing(key));
                None
            }
        };
        let default = NewTopicSettings {
            replication_factor: required("replication.factor", errors).unwrap_or(1),
            partitions: required("partitions", errors).unwrap_or(1),
            configs: topic_configs(raw, &default_prefix),
        };
        for field in ["include", "exclude"] {
            let key = format!("{default_prefix}{field}");
            if let Some(value) = raw.get(&key) {
                errors.push(ConfigError::invalid(
                    &key,
                    value,
                    "the default group takes every topic no other group takes; include and exclude apply to the groups of topic.creation.groups",
                ));
            }
        }
        let groups = names
            .iter()
            .filter(|n| n.as_str() != DEFAULT_GROUP)
            .map(|name| {
                let prefix = format!("{PREFIX}{name}.");
                let field = |f: &str| format!("{prefix}{f}");
                let or_default = |f: &str, fallback: i32, errors: &mut Vec<ConfigError>| {
                    let key = field(f);
                    if raw.contains_key(&key) {
                        count(raw, &key, errors).unwrap_or(fallback)
                    } else {
                        fallback
                    }
                };
                // Kafka Connect hands a group the default group's topic
                // configs under its own.
                let mut configs = default.configs.clone();
                configs.extend(topic_configs(raw, &prefix));
                TopicGroup {
                    // A group without `include` takes no topic, as in
                    // Kafka Connect.
                    include: patterns(raw, &field("include"), errors),
                    exclude: patterns(raw, &field("exclude"), errors),
                    settings: NewTopicSettings {
                        replication_factor: or_default(
                            "replication.factor",
                            default.replication_factor,
                            errors,
                        ),
                        partitions: or_default("partitions", default.partitions, errors),
                        configs,
                    },
                }
            })
            .collect();
        Some(TopicCreation { groups, default })
    }
}

/// A partition count or replication factor: -1 (the broker's default) or
/// at least 1.
fn count(raw: &BTreeMap<String, String>, key: &str, errors: &mut Vec<ConfigError>) -> Option<i32> {
    let value = raw[key].trim();
    match value.parse::<i32>() {
        Ok(n) if n == -1 || n >= 1 => Some(n),
        _ => {
            errors.push(ConfigError::invalid(
                key,
                value,
                "expected -1 (the broker's default) or a whole number of at least 1",
            ));
            None
        }
    }
}

/// A comma-separated list of patterns, as one pattern that matches a whole
/// topic name that any of them matches.
fn patterns(
    raw: &BTreeMap<String, String>,
    key: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Regex> {
    let items = list(raw.get(key)?);
    if items.is_empty() {
        return None;
    }
    let joined = items
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    match Regex::new(&format!("^(?:{joined})$")) {
        Ok(regex) => Some(regex),
        Err(e) => {
            errors.push(ConfigError::invalid(
                key,
                &raw[key],
                format!("not a valid regular expression: {e}"),
            ));
            None
        }
    }
}

/// The topic configs of a group: its keys other than the four the
/// feature itself reads.
fn topic_configs(raw: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    raw.iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(prefix)?;
            (!["include", "exclude", "replication.factor", "partitions"].contains(&name))
                .then(|| (name.to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    fn check(pairs: &[(&str, &str)]) -> Result<Option<TopicCreation>, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let out = TopicCreation::check(&map(pairs), &mut errors);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn without_keys_there_is_nothing_to_apply() {
        assert!(check(&[("topic", "x")]).unwrap().is_none());
    }

    #[test]
    fn the_first_matching_group_wins_and_the_default_takes_the_rest() {
        let creation = check(&[
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.cleanup.policy", "delete"),
            ("topic.creation.groups", "compacted,big"),
            ("topic.creation.compacted.include", "state-.*, config"),
            ("topic.creation.compacted.exclude", "state-tmp"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.big.include", "state-.*,events"),
            ("topic.creation.big.partitions", "12"),
        ])
        .unwrap()
        .unwrap();
        let compacted = creation.settings_for("state-users");
        assert_eq!(compacted.partitions, 3, "from the default group");
        assert_eq!(compacted.configs["cleanup.policy"], "compact");
        assert_eq!(
            creation.settings_for("config").configs["cleanup.policy"],
            "compact"
        );
        // Excluded from the first group, so the second one takes it.
        assert_eq!(creation.settings_for("state-tmp").partitions, 12);
        assert_eq!(creation.settings_for("events").partitions, 12);
        assert_eq!(
            creation.settings_for("events").configs["cleanup.policy"],
            "delete"
        );
        // Whole names only, as Java's Pattern.matches.
        let other = creation.settings_for("xevents");
        assert_eq!(other.partitions, 3);
        assert_eq!(other.replication_factor, 1);
    }

    #[test]
    fn the_default_group_needs_both_counts() {
        let errors = check(&[("topic.creation.default.partitions", "3")]).unwrap_err();
        assert_eq!(
            errors,
            [ConfigError::Missing(
                "topic.creation.default.replication.factor".into()
            )]
        );
    }

    #[test]
    fn bad_values_and_unlisted_groups_are_named() {
        let errors = check(&[
            ("topic.creation.default.replication.factor", "0"),
            ("topic.creation.default.partitions", "-1"),
            ("topic.creation.groups", "a"),
            ("topic.creation.a.include", "(unclosed"),
            ("topic.creation.b.partitions", "4"),
        ])
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{text:?}");
        assert!(text[0].contains("topic.creation.b.partitions"), "{text:?}");
        assert!(
            text[0].contains("name it in topic.creation.groups"),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("topic.creation.default.replication.factor")
                    && t.contains("-1 (the broker's default)")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("topic.creation.a.include") && t.contains("regular expression")),
            "{text:?}"
        );
    }

    #[test]
    fn the_worker_switch_is_not_a_connector_key() {
        let errors = check(&[
            ("topic.creation.enable", "true"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "1"),
        ])
        .unwrap_err();
        assert_eq!(errors[0].key(), "topic.creation.enable");
    }
}
