//! Secrets that must never be shown: the values that came from
//! `${env:...}` or `${file:...}` references, masked in every message, log
//! line and trace that could carry them. Resolving references is
//! `config::secrets`'s job; masking is needed below it too (a plugin's log
//! lines are masked by the logging capability).

use crate::configdef::{ConfigError, ConfigErrors};

/// What replaces a secret in messages and logs.
pub const MASK: &str = "[hidden]";

/// The values that came from references, for masking.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// The secrets among `values`: longer ones first, so that a secret
    /// that contains another is masked whole.
    pub fn new(mut values: Vec<String>) -> Self {
        values.retain(|s| !s.is_empty());
        values.sort_by_key(|s| std::cmp::Reverse(s.len()));
        values.dedup();
        Secrets { values }
    }

    /// `text` with every secret value replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            out = out.replace(value.as_str(), MASK);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Masks the values and reasons of configuration errors.
    pub fn mask_errors(&self, errors: ConfigErrors) -> ConfigErrors {
        if self.is_empty() {
            return errors;
        }
        ConfigErrors(
            errors
                .0
                .into_iter()
                .map(|e| match e {
                    ConfigError::Invalid { key, value, reason } => ConfigError::Invalid {
                        key,
                        value: self.mask(&value),
                        reason: self.mask(&reason),
                    },
                    other => other,
                })
                .collect(),
        )
    }
}
