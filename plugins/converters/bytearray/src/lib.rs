//! `bytearray`: Kafka's `ByteArrayConverter`. Bytes pass through as they
//! are: on the way in as an optional BYTES value, on the way out only bytes
//! are accepted.

use sluice_sdk::data::{SchemaType, StructuredValue, Value};
use sluice_sdk::prelude::*;

pub struct ByteArrayConverter;

/// The Java class Kafka names in its message for a value of this type.
fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "class java.lang.Boolean",
        Value::Int8(_) => "class java.lang.Byte",
        Value::Int16(_) => "class java.lang.Short",
        Value::Int32(_) => "class java.lang.Integer",
        Value::Int64(_) => "class java.lang.Long",
        Value::Float32(_) => "class java.lang.Float",
        Value::Float64(_) => "class java.lang.Double",
        Value::String(_) => "class java.lang.String",
        Value::Bytes(_) => "class [B",
        Value::Array(_) => "class java.util.ArrayList",
        Value::Map(_) => "class java.util.HashMap",
        Value::Struct(_) => "class org.apache.kafka.connect.data.Struct",
    }
}

impl Converter for ByteArrayConverter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "bytearray",
            env!("CARGO_PKG_VERSION"),
            "Passes bytes through unchanged, as Kafka's ByteArrayConverter",
        )
        .alias("org.apache.kafka.connect.converters.ByteArrayConverter")
        .alias("ByteArrayConverter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        Vec::new()
    }

    fn create(_config: Config, _is_key: bool) -> Result<Self> {
        Ok(ByteArrayConverter)
    }

    fn to_data(&mut self, _topic: &str, bytes: Option<Vec<u8>>) -> Result<Option<Data>, String> {
        Ok(bytes.map(|bytes| {
            Data::structured(
                Some(Schema::of(SchemaType::Bytes).optional()),
                Value::Bytes(bytes),
            )
        }))
    }

    fn from_data(&mut self, _topic: &str, data: Option<Data>) -> Result<Option<Vec<u8>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        if let Data::Raw(bytes) = data {
            return Ok(Some(bytes));
        }
        let StructuredValue { schema, value } = data.to_tree()?;
        if let Some(schema) = &schema
            && schema.type_ != SchemaType::Bytes
        {
            return Err(format!(
                "Invalid schema type for ByteArrayConverter: {}",
                schema.type_.kafka_name()
            ));
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes)),
            other => Err(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                java_class(&other)
            )),
        }
    }
}

sluice_sdk::export_converter!(ByteArrayConverter);
