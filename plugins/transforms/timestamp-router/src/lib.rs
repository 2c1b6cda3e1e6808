//! `timestamp-router`: Kafka's `TimestampRouter` transform. The topic
//! becomes `topic.format` with `${topic}` replaced by the record's topic and
//! then `${timestamp}` by its timestamp in `timestamp.format`, a
//! `java.text.SimpleDateFormat` pattern, in UTC.

use sluice_sdk::prelude::*;
use transform_support::date_format::DateFormat;

const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";
const DEFAULT_TOPIC_FORMAT: &str = "${topic}-${timestamp}";
const DEFAULT_TIMESTAMP_FORMAT: &str = "yyyyMMdd";

pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: DateFormat,
}

/// The timestamp format, or Kafka's message for a pattern it refuses.
fn timestamp_format(config: &Config) -> Result<DateFormat, String> {
    let raw = config
        .get(TIMESTAMP_FORMAT)
        .unwrap_or(DEFAULT_TIMESTAMP_FORMAT);
    DateFormat::for_formatting(raw)
        .map_err(|e| format!("Invalid value {raw} for configuration {TIMESTAMP_FORMAT}: {e}"))
}

impl Transform for TimestampRouter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "timestamp-router",
            env!("CARGO_PKG_VERSION"),
            "Update the record's topic field as a function of the original topic value and the \
             record timestamp",
        )
        .alias("org.apache.kafka.connect.transforms.TimestampRouter")
        .alias("TimestampRouter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                TOPIC_FORMAT,
                ConfigType::String,
                Importance::High,
                "Format string which can contain ${topic} and ${timestamp} as placeholders for \
                 the topic and timestamp, respectively.",
            )
            .default_value(DEFAULT_TOPIC_FORMAT),
            ConfigKey::new(
                TIMESTAMP_FORMAT,
                ConfigType::String,
                Importance::High,
                "Format string for the timestamp that is compatible with \
                 java.text.SimpleDateFormat.",
            )
            .default_value(DEFAULT_TIMESTAMP_FORMAT),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        match timestamp_format(config) {
            Ok(_) => Vec::new(),
            Err(message) => vec![ConfigIssue {
                key: TIMESTAMP_FORMAT.into(),
                message,
            }],
        }
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        if part.is_some() {
            return Err(ConnectError::fatal(
                "TimestampRouter has no $Key or $Value variant: use TimestampRouter",
            ));
        }
        Ok(TimestampRouter {
            topic_format: config
                .get(TOPIC_FORMAT)
                .unwrap_or(DEFAULT_TOPIC_FORMAT)
                .to_string(),
            timestamp_format: timestamp_format(&config).map_err(ConnectError::fatal)?,
        })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        let Some(timestamp) = record.timestamp else {
            return Err(format!(
                "Timestamp missing on record: ConnectRecord{{topic='{}', kafkaPartition={}, \
                 offset={}, timestamp=null}}",
                record.topic,
                record
                    .partition
                    .map_or_else(|| "null".to_string(), |p| p.to_string()),
                record
                    .offset
                    .map_or_else(|| "null".to_string(), |o| o.to_string()),
            ));
        };
        let formatted = self.timestamp_format.format(timestamp);
        // In this order, as Kafka: a `${timestamp}` the topic brings in is
        // replaced too.
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(TimestampRouter);
