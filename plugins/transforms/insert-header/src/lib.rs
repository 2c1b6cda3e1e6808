//! `insert-header`: Kafka's `InsertHeader` transform. It adds a header
//! named `header` to every record, after the headers it already has (even
//! one of the same name), with `value.literal` read as Kafka's
//! `Values.parseString` reads it: `42` is an INT8, `true` a BOOLEAN,
//! `2024-05-01` a Date, `[1,2]` an array, anything else a STRING.

use java_text::values;
use sluice_sdk::prelude::*;

const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";

pub struct InsertHeader {
    header: Header,
}

/// A required key, or Kafka's message for a missing one. An empty value is
/// allowed: Kafka only refuses a null.
fn required<'a>(config: &'a Config, key: &str) -> Result<&'a str, ConfigIssue> {
    config.get(key).ok_or_else(|| ConfigIssue {
        key: key.into(),
        message: format!("Missing required configuration \"{key}\" which has no default value."),
    })
}

/// The header to add, as the configuration describes it.
fn header(config: &Config) -> Result<Header, ConfigIssue> {
    let key = required(config, HEADER)?.to_string();
    let literal = required(config, VALUE_LITERAL)?;
    // Kafka reads a literal that does not parse (a broken list, say) as
    // the string it is.
    let value = match values::parse_string(literal) {
        Ok(parsed) => parsed.map(|parsed| Data::structured(Some(parsed.schema), parsed.value)),
        Err(_) => Some(Data::structured(
            Some(Schema::of(SchemaType::String)),
            Value::String(literal.to_string()),
        )),
    };
    Ok(Header { key, value })
}

impl Transform for InsertHeader {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "insert-header",
            env!("CARGO_PKG_VERSION"),
            "Add a header to each record",
        )
        .alias("org.apache.kafka.connect.transforms.InsertHeader")
        .alias("InsertHeader")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                HEADER,
                ConfigType::String,
                Importance::High,
                "The name of the header.",
            )
            .required(),
            ConfigKey::new(
                VALUE_LITERAL,
                ConfigType::String,
                Importance::High,
                "The literal value that is to be set as the header value on all records.",
            )
            .required(),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        header(config).err().into_iter().collect()
    }

    fn create(config: Config, part: Option<RecordPart>) -> Result<Self> {
        if part.is_some() {
            return Err(ConnectError::fatal(
                "InsertHeader has no $Key or $Value variant: use InsertHeader",
            ));
        }
        let header = header(&config).map_err(|issue| ConnectError::fatal(issue.message))?;
        Ok(InsertHeader { header })
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, String> {
        record.headers.push(self.header.clone());
        Ok(Some(record))
    }
}

sluice_sdk::export_transform!(InsertHeader);
