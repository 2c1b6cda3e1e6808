//! The vocabulary of configuration that every layer shares, as Kafka's
//! `ConfigDef` and `ConfigException` are: a problem with one key, every
//! problem of one configuration, a key's definition for the REST API and
//! `sluice plugin inspect`, and the guess at a misspelt key. It imports
//! nothing of the crate, so the runtime and the capabilities below
//! `config/` can report problems in the same words.

use std::fmt;

/// One problem with one configuration key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key \"{key}\"{hint}")]
    UnknownKey { key: String, hint: String },
    #[error("missing required configuration \"{0}\"")]
    Missing(String),
    #[error("invalid value \"{value}\" for configuration \"{key}\": {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    /// The key the problem is about.
    pub fn key(&self) -> &str {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::Invalid { key, .. } => key,
            ConfigError::Missing(key) => key,
        }
    }

    pub fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// An unknown key, with a guess among `known` when one is close.
    pub fn unknown(key: &str, known: &[&str]) -> Self {
        ConfigError::UnknownKey {
            key: key.to_string(),
            hint: suggest(key, known),
        }
    }
}

/// Every problem found in one configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} configuration error{}: ",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// ", did you mean \"x\"?" when a known key is one or two edits away.
pub fn suggest(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(", did you mean \"{k}\"?"))
        .unwrap_or_default()
}

/// A comma-separated list value (Kafka's LIST type): items trimmed, empty
/// items dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A key the host itself reads from a connector configuration (as opposed
/// to one a plugin declares), as the REST API and `plugin inspect` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDefinition {
    pub name: &'static str,
    /// Kafka's type name: STRING, INT, LONG, LIST, BOOLEAN, ...
    pub type_: &'static str,
    pub default: Option<&'static str>,
    pub required: bool,
    /// HIGH, MEDIUM or LOW.
    pub importance: &'static str,
    /// The group the REST API lists it under.
    pub group: &'static str,
    pub documentation: &'static str,
}

/// A configuration map from pairs, for tests.
#[cfg(test)]
pub(crate) fn map(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_key_is_suggested_and_a_far_one_is_not() {
        let known = ["bootstrap.servers", "plugin.path"];
        assert_eq!(
            suggest("bootstrap.server", &known),
            ", did you mean \"bootstrap.servers\"?"
        );
        assert_eq!(
            suggest("plugin.pth", &known),
            ", did you mean \"plugin.path\"?"
        );
        assert_eq!(suggest("listeners", &known), "");
    }

    #[test]
    fn lists_drop_empty_items() {
        assert_eq!(list(" a, ,b ,"), ["a", "b"]);
    }
}
