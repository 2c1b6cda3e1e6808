//! `topic-name-matches`: Kafka's `TopicNameMatches` predicate, true for a
//! record whose whole topic name matches `pattern` (Java's
//! `Matcher.matches()`, not a search for the pattern inside the name).
//!
//! Patterns are compiled by the `regex` crate, whose syntax is Java's for
//! everything but look-around and back-references, which it lacks: such a
//! pattern is refused when the predicate is configured.

use regex::Regex;
use sluice_sdk::prelude::*;

const PATTERN: &str = "pattern";

pub struct TopicNameMatches {
    whole_name: Regex,
}

/// The pattern anchored at both ends, or Kafka's message for an empty or
/// invalid one.
fn whole_name_pattern(config: &Config) -> Result<Regex, String> {
    let pattern = match config.get(PATTERN) {
        None => {
            return Err(format!(
                "Missing required configuration \"{PATTERN}\" which has no default value."
            ));
        }
        Some("") => {
            return Err(format!(
                "Invalid value  for configuration {PATTERN}: String must be non-empty"
            ));
        }
        Some(pattern) => pattern,
    };
    let invalid = |e: regex::Error| {
        format!(
            "Invalid value {pattern} for configuration {PATTERN}: Invalid regex: {}",
            regex_problem(&e)
        )
    };
    // Checked on its own first, so that an error points into the operator's
    // pattern and not into the anchors around it.
    Regex::new(pattern).map_err(invalid)?;
    Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(invalid)
}

/// The regex crate's error as one line: its syntax errors repeat the pattern
/// and draw a caret under the problem on lines of their own.
fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("error: "))
        .next_back()
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string())
}

impl Predicate for TopicNameMatches {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "topic-name-matches",
            env!("CARGO_PKG_VERSION"),
            "A predicate which is true for records with a topic name that matches the configured \
             regular expression",
        )
        .alias("org.apache.kafka.connect.transforms.predicates.TopicNameMatches")
        .alias("TopicNameMatches")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                PATTERN,
                ConfigType::String,
                Importance::Medium,
                "A Java regular expression for matching against the name of a record's topic.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        match whole_name_pattern(config) {
            Ok(_) => Vec::new(),
            Err(message) => vec![ConfigIssue {
                key: PATTERN.into(),
                message,
            }],
        }
    }

    fn create(config: Config) -> Result<Self> {
        let whole_name = whole_name_pattern(&config).map_err(ConnectError::fatal)?;
        Ok(TopicNameMatches { whole_name })
    }

    fn test(&mut self, record: &ConnectRecord) -> bool {
        self.whole_name.is_match(&record.topic)
    }
}

sluice_sdk::export_predicate!(TopicNameMatches);
