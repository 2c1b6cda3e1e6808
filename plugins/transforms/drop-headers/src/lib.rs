//! `drop-headers`: Kafka's `DropHeaders` transform. It removes every header
//! whose key is in the `headers` list, leaving the others in their order.

use sluice_sdk::prelude::*;

const HEADERS: &str = "headers";

pub struct DropHeaders {
    names: Vec<String>,
}

/// The header names, or Kafka's message for a missing or empty list.
fn header_names(config: &Config) -> Result<Vec<String>, String> {
    match config.get(HEADERS) {
        None => Err(format!(
            "Missing required configuration \"{HEADERS}\" which has no default value."
        )),
        Some(raw) => {
            let names = config.list(HEADERS);
            if names.is_empty() {
                Err(format!(
                    "Invalid value {raw} for configuration {HEADERS}: Empty list"
                ))
            } else {
                Ok(names)
            }
        }
    }
}

impl Transform for DropHeaders {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "drop-headers",
            env!("CARGO_PKG_VERSION"),
            "Removes one or more headers from each record",
        )
        .alias("org.apache.kafka.connect.transforms.DropHeaders")
        .alias("DropHeaders")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                HEADERS,
                ConfigType::List,
                Importance::High,
                "The name of the headers to be removed.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        match header_names(config) {
            Ok(_) => Vec::new(),
            Err(message) => vec![ConfigIssue {
                key: HEADERS.into(),
                message,
            }],
        }
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        if part.is_some() {
            return Err(ConnectError::fatal(
                "DropHeaders has no $Key or $Value variant: use DropHeaders",
            ));
        }
        let names = header_names(&config).map_err(ConnectError::fatal)?;
        Ok(DropHeaders { names })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        record.headers.retain(|h| !self.names.contains(&h.key));
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(DropHeaders);
