//! Transform configuration read the way Kafka's `ConfigDef` reads it
//! (strings trimmed, lists split on commas, defaults applied), with
//! problems worded as Kafka's `ConfigException`, so that `create` and
//! `validate` share one parser and one set of messages.

use sluice_sdk::{Config, ConfigIssue, ConfigKey, ConfigType, ConnectError, Importance};

/// The key of Kafka's transforms that work on fields with defaults (KIP-1040).
pub const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// `replace.null.with.default` as Kafka's transforms declare it.
pub fn replace_null_with_default_key() -> ConfigKey {
    ConfigKey::new(
        REPLACE_NULL_WITH_DEFAULT,
        ConfigType::Boolean,
        Importance::Medium,
        "Whether to replace fields that have a default value and that are null to the default \
         value. When set to true, the default value is used, otherwise null is used.",
    )
    .default_value(true)
}

/// A problem with one configuration key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
}

impl ConfigProblem {
    /// A problem with `key` described by `message` as it stands.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Kafka's `ConfigException(name, value, message)`:
    /// `Invalid value <value> for configuration <key>: <message>`.
    pub fn invalid(key: &str, value: &str, message: impl std::fmt::Display) -> Self {
        ConfigProblem::new(
            key,
            format!("Invalid value {value} for configuration {key}: {message}"),
        )
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ConfigProblem> for ConnectError {
    fn from(problem: ConfigProblem) -> Self {
        ConnectError::fatal(problem.message)
    }
}

impl From<ConfigProblem> for ConfigIssue {
    fn from(problem: ConfigProblem) -> Self {
        ConfigIssue {
            key: problem.key,
            message: problem.message,
        }
    }
}

/// The issues `validate` reports for a configuration that `parse` reads.
pub fn issues<T>(parsed: Result<T, ConfigProblem>) -> Vec<ConfigIssue> {
    match parsed {
        Ok(_) => Vec::new(),
        Err(problem) => vec![problem.into()],
    }
}

/// A list as Java prints it: `[a, b]`.
pub fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// A STRING key, trimmed; `None` when not set.
pub fn string(config: &Config, key: &str) -> Option<String> {
    config.get(key).map(|v| v.trim().to_string())
}

/// A required STRING key, trimmed.
pub fn required_string(config: &Config, key: &str) -> Result<String, ConfigProblem> {
    string(config, key).ok_or_else(|| {
        ConfigProblem::new(
            key,
            format!("Missing required configuration \"{key}\" which has no default value."),
        )
    })
}

/// A LIST key as Kafka splits it: on commas, items trimmed; an unset or
/// blank value is the empty list.
pub fn list(config: &Config, key: &str) -> Vec<String> {
    match config.get(key).map(str::trim) {
        None | Some("") => Vec::new(),
        Some(raw) => raw.split(',').map(|s| s.trim().to_string()).collect(),
    }
}

/// A required LIST key that must not be empty (Kafka's
/// `NonEmptyListValidator`).
pub fn non_empty_list(config: &Config, key: &str) -> Result<Vec<String>, ConfigProblem> {
    if config.get(key).is_none() {
        return Err(ConfigProblem::new(
            key,
            format!("Missing required configuration \"{key}\" which has no default value."),
        ));
    }
    let items = list(config, key);
    if items.is_empty() {
        return Err(ConfigProblem::invalid(key, "[]", "Empty list"));
    }
    Ok(items)
}

/// A BOOLEAN key, `default` when unset.
pub fn boolean(config: &Config, key: &str, default: bool) -> Result<bool, ConfigProblem> {
    match config.get(key).map(str::trim) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ConfigProblem::invalid(
            key,
            v,
            "Expected value to be either true or false",
        )),
    }
}

/// A STRING key that must be one of `allowed` (Kafka's `ValidString`),
/// `default` when unset.
pub fn one_of(
    config: &Config,
    key: &str,
    default: Option<&str>,
    allowed: &[&str],
) -> Result<String, ConfigProblem> {
    let value = match (string(config, key), default) {
        (Some(v), _) => v,
        (None, Some(d)) => d.to_string(),
        (None, None) => return required_string(config, key),
    };
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ConfigProblem::invalid(
            key,
            &value,
            format!("String must be one of: {}", allowed.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn lists_split_like_kafka() {
        let c = config(&[("a", " x , y"), ("b", "  ")]);
        assert_eq!(list(&c, "a"), ["x", "y"]);
        assert!(list(&c, "b").is_empty());
        assert_eq!(
            non_empty_list(&c, "b").unwrap_err().message,
            "Invalid value [] for configuration b: Empty list"
        );
    }

    #[test]
    fn one_of_names_the_choices() {
        let c = config(&[("operation", "swap")]);
        let err = one_of(&c, "operation", None, &["move", "copy"]).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value swap for configuration operation: String must be one of: move, copy"
        );
    }
}
