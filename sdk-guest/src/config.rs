//! Connector configuration: the operator's key/value strings with typed
//! lookups that fail with an error naming the key, and builders for the key
//! descriptions a plugin publishes.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::wit::{ConfigKey, ConfigType, ConnectError, Importance, PluginMetadata};

/// A configuration, as the operator wrote it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    entries: BTreeMap<String, String>,
}

impl Config {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The value of `key`, or an error naming the missing key.
    pub fn require(&self, key: &str) -> Result<&str, ConnectError> {
        match self.get(key) {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(ConnectError::fatal(format!(
                "missing required configuration \"{key}\""
            ))),
        }
    }

    /// `key` parsed as a `T`, or `default` when it is not set.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConnectError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e| {
                ConnectError::fatal(format!(
                    "invalid value \"{raw}\" for configuration \"{key}\": {e}"
                ))
            }),
        }
    }

    /// `key` as a comma-separated list, trimmed, without empty items.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.insert(key.into(), value.into());
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(entries: Vec<(String, String)>) -> Self {
        Config {
            entries: entries.into_iter().collect(),
        }
    }
}

impl From<Config> for Vec<(String, String)> {
    fn from(config: Config) -> Self {
        config.entries.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Config {
            entries: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl ConfigKey {
    /// An optional key without a default.
    pub fn new(name: &str, type_: ConfigType, importance: Importance, documentation: &str) -> Self {
        ConfigKey {
            name: name.to_string(),
            type_,
            default_value: None,
            required: false,
            importance,
            documentation: documentation.to_string(),
            group: None,
            display_name: None,
        }
    }

    /// The operator must give a value.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The value used when the operator gives none.
    pub fn default_value(mut self, value: impl ToString) -> Self {
        self.default_value = Some(value.to_string());
        self
    }

    /// The group the key is shown in.
    pub fn group(mut self, group: &str) -> Self {
        self.group = Some(group.to_string());
        self
    }
}

impl PluginMetadata {
    /// A plugin's name, version and one-line description.
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        PluginMetadata {
            name: name.to_string(),
            version: version.to_string(),
            description: description.to_string(),
            aliases: Vec::new(),
        }
    }

    /// Another name the plugin answers to, such as a Kafka class name.
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn require_names_the_missing_key() {
        let err = config(&[]).require("topic").unwrap_err();
        assert!(err.message.contains("\"topic\""), "{}", err.message);
    }

    #[test]
    fn parse_or_names_key_and_value() {
        let c = config(&[("batch.size", "many")]);
        let err = c.parse_or("batch.size", 10u32).unwrap_err();
        assert!(err.message.contains("batch.size") && err.message.contains("many"));
        assert_eq!(config(&[]).parse_or("batch.size", 10u32).unwrap(), 10);
    }

    #[test]
    fn list_splits_and_trims() {
        assert_eq!(
            config(&[("topics", " a, b,,c ")]).list("topics"),
            ["a", "b", "c"]
        );
    }
}
