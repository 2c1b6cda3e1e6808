//! `has-header-key`: Kafka's `HasHeaderKey` predicate, true for a record
//! with at least one header whose key is `name`.

use sluice_sdk::prelude::*;

const NAME: &str = "name";

pub struct HasHeaderKey {
    name: String,
}

/// The header name, or Kafka's message for an empty one.
fn header_name(config: &Config) -> Result<String, String> {
    match config.get(NAME) {
        None => Err(format!(
            "Missing required configuration \"{NAME}\" which has no default value."
        )),
        Some("") => Err(format!(
            "Invalid value  for configuration {NAME}: String must be non-empty"
        )),
        Some(name) => Ok(name.to_string()),
    }
}

impl Predicate for HasHeaderKey {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "has-header-key",
            env!("CARGO_PKG_VERSION"),
            "A predicate which is true for records with at least one header with the configured name",
        )
        .alias("org.apache.kafka.connect.transforms.predicates.HasHeaderKey")
        .alias("HasHeaderKey")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                NAME,
                ConfigType::String,
                Importance::Medium,
                "The header name.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        match header_name(config) {
            Ok(_) => Vec::new(),
            Err(message) => vec![ConfigIssue {
                key: NAME.into(),
                message,
            }],
        }
    }

    fn create(config: Config) -> Result<Self> {
        let name = header_name(&config).map_err(ConnectError::fatal)?;
        Ok(HasHeaderKey { name })
    }

    fn test(&mut self, record: &ConnectRecord) -> bool {
        record.headers.iter().any(|h| h.key == self.name)
    }
}

sluice_sdk::export_predicate!(HasHeaderKey);
