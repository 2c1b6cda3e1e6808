//! `simple-header`: Kafka's `SimpleHeaderConverter`. A value is written as
//! its string form (Kafka's `Values.convertToString`: strings as they are,
//! numbers as Java prints them, lists as `[1,2]`, maps as `{"a":1}`, dates
//! and times in ISO 8601); bytes are read back with the schema inferred as
//! `Values.parseString` infers it (booleans, the smallest integer type that
//! holds a number, floats, dates and times, arrays and maps), and anything
//! else as a string.

use java_text::values;
use sluice_sdk::data::{Schema, SchemaType, StructuredValue, Value};
use sluice_sdk::prelude::*;

pub struct SimpleHeaderConverter;

impl Converter for SimpleHeaderConverter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "simple-header",
            env!("CARGO_PKG_VERSION"),
            "Writes values as strings and reads them back with an inferred schema, as Kafka's \
             SimpleHeaderConverter",
        )
        .alias("org.apache.kafka.connect.storage.SimpleHeaderConverter")
        .alias("SimpleHeaderConverter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        Vec::new()
    }

    fn create(_config: Config, _is_key: bool) -> Result<Self> {
        Ok(SimpleHeaderConverter)
    }

    fn to_data(&mut self, _topic: &str, bytes: Option<Vec<u8>>) -> Result<Option<Data>, String> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        // Kafka falls back to the bytes themselves when the value cannot be
        // read; text that is not UTF-8 is such a value.
        let bytes_as_they_are = |bytes: Vec<u8>| {
            Some(Data::structured(
                Some(Schema::of(SchemaType::Bytes)),
                Value::Bytes(bytes),
            ))
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => return Ok(bytes_as_they_are(e.into_bytes())),
        };
        Ok(match values::parse_string(&text) {
            Ok(None) => None,
            Ok(Some(parsed)) => Some(Data::structured(Some(parsed.schema), parsed.value)),
            Err(_) => bytes_as_they_are(text.into_bytes()),
        })
    }

    fn from_data(&mut self, _topic: &str, data: Option<Data>) -> Result<Option<Vec<u8>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        let StructuredValue { schema, value } = data.to_tree()?;
        if value == Value::Null {
            return Ok(None);
        }
        let mut out = String::new();
        values::append(&mut out, schema.as_ref(), &value, false);
        Ok(Some(out.into_bytes()))
    }
}

sluice_sdk::export_converter!(SimpleHeaderConverter);
