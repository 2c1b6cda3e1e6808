//! `json`: Kafka's `JsonConverter`, byte for byte. With `schemas.enable`
//! (the default) every key or value is an envelope
//! `{"schema":{...},"payload":...}` whose schema is written in Kafka's key
//! order; without it, plain JSON whose objects read as maps. Decimals are
//! Base64 of the unscaled value or JSON numbers (`decimal.format`); dates,
//! times and timestamps are integers; floats and doubles print as Java
//! prints them.

mod json;
mod read;
mod write;

use sluice_sdk::data::Value;
use sluice_sdk::prelude::*;

use json::Json;
use read::Reader;
use write::{DecimalFormat, Writer};

const SCHEMAS_ENABLE: &str = "schemas.enable";
const SCHEMAS_CACHE_SIZE: &str = "schemas.cache.size";
const DECIMAL_FORMAT: &str = "decimal.format";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

pub struct JsonConverter {
    schemas_enable: bool,
    reader: Reader,
    writer: Writer,
}

/// The converter's settings, or the key and Kafka's message for what is
/// wrong with them.
struct Settings {
    schemas_enable: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
}

fn issue(key: &str, message: String) -> ConfigIssue {
    ConfigIssue {
        key: key.into(),
        message,
    }
}

fn boolean(config: &Config, key: &str, default: bool) -> Result<bool, ConfigIssue> {
    match config.get(key).map(str::trim) {
        None => Ok(default),
        Some(raw) if raw.eq_ignore_ascii_case("true") => Ok(true),
        Some(raw) if raw.eq_ignore_ascii_case("false") => Ok(false),
        Some(raw) => Err(issue(
            key,
            format!(
                "Invalid value {raw} for configuration {key}: Expected value to be either true or false"
            ),
        )),
    }
}

fn settings(config: &Config) -> Result<Settings, ConfigIssue> {
    let schemas_enable = boolean(config, SCHEMAS_ENABLE, true)?;
    let replace_null_with_default = boolean(config, REPLACE_NULL_WITH_DEFAULT, true)?;
    if let Some(raw) = config.get(SCHEMAS_CACHE_SIZE)
        && raw.trim().parse::<i32>().is_err()
    {
        return Err(issue(
            SCHEMAS_CACHE_SIZE,
            format!(
                "Invalid value {raw} for configuration {SCHEMAS_CACHE_SIZE}: Not a number of type INT"
            ),
        ));
    }
    let decimal_format = match config.get(DECIMAL_FORMAT) {
        None => DecimalFormat::Base64,
        Some(raw) if raw.eq_ignore_ascii_case("BASE64") => DecimalFormat::Base64,
        Some(raw) if raw.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
        Some(raw) => {
            return Err(issue(
                DECIMAL_FORMAT,
                format!(
                    "Invalid value {raw} for configuration {DECIMAL_FORMAT}: \
                     String must be one of (case insensitive): BASE64, NUMERIC"
                ),
            ));
        }
    };
    Ok(Settings {
        schemas_enable,
        decimal_format,
        replace_null_with_default,
    })
}

impl Converter for JsonConverter {
    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "json",
            env!("CARGO_PKG_VERSION"),
            "JSON with or without an embedded schema, as Kafka's JsonConverter",
        )
        .alias("org.apache.kafka.connect.json.JsonConverter")
        .alias("JsonConverter")
    }

    fn config_keys() -> Vec<ConfigKey> {
        vec![
            ConfigKey::new(
                SCHEMAS_ENABLE,
                ConfigType::Boolean,
                Importance::High,
                "Include schemas within each of the serialized values and keys.",
            )
            .default_value(true)
            .group("Schemas"),
            ConfigKey::new(
                SCHEMAS_CACHE_SIZE,
                ConfigType::Int,
                Importance::High,
                "The maximum number of schemas that can be cached in this converter instance.",
            )
            .default_value(1000)
            .group("Schemas"),
            ConfigKey::new(
                DECIMAL_FORMAT,
                ConfigType::String,
                Importance::Low,
                "Controls which format this converter will serialize decimals in. This value is \
                 case insensitive and can be either 'BASE64' (default) or 'NUMERIC'",
            )
            .default_value("BASE64")
            .group("Serialization"),
            ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                Importance::Low,
                "Whether to replace fields that have a default value and that are null to the \
                 default value. When set to true, the default value is used, otherwise null is used.",
            )
            .default_value(true)
            .group("Serialization"),
        ]
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        settings(config).err().into_iter().collect()
    }

    fn create(config: Config, _is_key: bool) -> Result<Self> {
        let settings = settings(&config).map_err(|issue| ConnectError::fatal(issue.message))?;
        Ok(JsonConverter {
            schemas_enable: settings.schemas_enable,
            reader: Reader {
                replace_null_with_default: settings.replace_null_with_default,
            },
            writer: Writer {
                decimal_format: settings.decimal_format,
                replace_null_with_default: settings.replace_null_with_default,
            },
        })
    }

    fn to_data(&mut self, _topic: &str, bytes: Option<Vec<u8>>) -> Result<Option<Data>, String> {
        // A tombstone.
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let json = json::parse(&bytes).map_err(|e| {
            format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            )
        })?;
        let (schema_json, payload) = if self.schemas_enable {
            let envelope = json
                .as_ref()
                .filter(|j| {
                    matches!(j, Json::Object(members) if members.len() == 2)
                        && j.get("schema").is_some()
                        && j.get("payload").is_some()
                })
                .ok_or(
                    "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields \
                     and may not contain additional fields. If you are trying to deserialize plain \
                     JSON data, set schemas.enable=false in your converter configuration.",
                )?;
            (envelope.get("schema"), envelope.get("payload"))
        } else {
            (None, json.as_ref())
        };
        let schema = match schema_json {
            Some(schema_json) => self.reader.schema(schema_json)?,
            None => None,
        };
        let value = self.reader.value(schema.as_ref(), payload)?;
        if schema.is_none() && value == Value::Null {
            return Ok(None);
        }
        Ok(Some(Data::structured(schema, value)))
    }

    fn from_data(&mut self, _topic: &str, data: Option<Data>) -> Result<Option<Vec<u8>>, String> {
        let Some(data) = data else {
            return Ok(None);
        };
        let tree = data.to_tree()?;
        let rendered = match (&tree.schema, self.schemas_enable) {
            (Some(schema), true) => Some(self.render_schema(schema)?),
            _ => None,
        };
        self.write(tree.schema.as_ref(), rendered.as_deref(), &tree.value)
    }

    /// The batch form: each listed schema is read and rendered once, when
    /// the first item that has it comes, and spliced into every envelope.
    fn from_batch(
        &mut self,
        topic: &str,
        schemas: &[BatchSchema],
        items: Vec<Option<BatchData>>,
    ) -> Vec<Result<Option<Vec<u8>>, String>> {
        type Listed = Option<Result<(Schema, Option<Vec<u8>>), String>>;
        let mut listed: Vec<Listed> = vec![None; schemas.len()];
        items
            .into_iter()
            .map(|item| {
                let structured = match item {
                    None => return Ok(None),
                    Some(BatchData::Raw(bytes)) => {
                        return self.from_data(topic, Some(Data::Raw(bytes)));
                    }
                    Some(BatchData::Structured(structured)) => structured,
                };
                let value = structured.to_value()?;
                let Some(index) = structured.schema else {
                    return self.write(None, None, &value);
                };
                let slot = listed.get_mut(index as usize).ok_or_else(|| {
                    format!(
                        "malformed structured data: it refers to schema {index} of a batch that \
                         lists {}",
                        schemas.len()
                    )
                })?;
                let entry = slot.get_or_insert_with(|| {
                    let schema = Schema::try_from(&schemas[index as usize])?;
                    let rendered = match self.schemas_enable {
                        true => Some(self.render_schema(&schema)?),
                        false => None,
                    };
                    Ok((schema, rendered))
                });
                let (schema, rendered) = entry.as_ref().map_err(Clone::clone)?;
                self.write(Some(schema), rendered.as_deref(), &value)
            })
            .collect()
    }
}

impl JsonConverter {
    /// A schema in Kafka's JSON form, as the envelope's `schema` member.
    fn render_schema(&self, schema: &Schema) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(128);
        self.writer.schema(&mut out, schema, None)?;
        Ok(out)
    }

    /// The bytes of a value with its schema, if any, whose rendering is
    /// `rendered` when schemas are enabled.
    fn write(
        &self,
        schema: Option<&Schema>,
        rendered: Option<&[u8]>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, String> {
        if schema.is_none() && *value == Value::Null {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(rendered.map_or(0, <[u8]>::len) + 128);
        if self.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            out.extend_from_slice(rendered.unwrap_or(b"null"));
            out.extend_from_slice(b",\"payload\":");
            self.writer.value(&mut out, schema, value)?;
            out.push(b'}');
        } else {
            self.writer.value(&mut out, schema, value)?;
        }
        Ok(Some(out))
    }
}

sluice_sdk::export_converter!(JsonConverter);
